"""Simulated BMC fleet (OpenBMC REST and Redfish) on loopback, with its control API and client helpers."""

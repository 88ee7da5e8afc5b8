"""Sensor objects of a simulated OpenBMC BMC (Witherspoon hwmon/OCC labels, 2018 Sensor.Value).

Each sensor has ``Value`` and ``Scale`` (reading = Value x 10^Scale), ``Unit``, thresholds and
alarms, and the association objects ``<sensor>/chassis`` and ``<sensor>/inventory``
(docs/COMMANDS.md "Simulated BMC"). Readings vary per node and are a pure function of its
index. Some nodes also carry an altitude sensor (``Meters``), a ``Percent`` sensor (which
rvitals ignores) and the old ``PowerSupplyRedundancy`` skeleton object (lower-case
``units``/``value``).
"""

from sim.openbmc_inventory import BOARD, CORES, DIMMS, GPUS, empty_dimms

P = '/xyz/openbmc_project'
SENSORS = P + '/sensors'
UNIT = 'xyz.openbmc_project.Sensor.Value.Unit.'

#: namespace -> (unit, scale, critical low, critical high) of its sensors.
KINDS = {
    'temperature': ('DegreesC', -3, 0, 83000),
    'fan_tach': ('RPMS', 0, 2974, 12076),
    'voltage': ('Volts', -3, 0, 250000),
    'current': ('Amperes', -3, 0, 50000),
    'power': ('Watts', -6, 0, 2500000000),
    'altitude': ('Meters', 0, 0, 3000),
    'fan_pwm': ('Percent', 0, 0, 100),
}


def has_altitude(index):
    """Whether node ``index`` has an altitude sensor (the Witherspoon configurations have none)."""
    return index % 2 == 0


def has_redundancy_object(index):
    """Whether node ``index`` serves the old ``chassis/PowerSupplyRedundancy`` object."""
    return index % 4 == 0


def sensor_list(index):
    """``[(namespace, label, value)]`` of node ``index`` (values in the namespace's scale)."""
    v = index % 17
    items = [('temperature', 'ambient', 22420 + 10 * v)]
    for fan in range(4):
        items.append(('fan_tach', 'fan%d_0' % fan, 7144 + 13 * v + fan))
        items.append(('fan_tach', 'fan%d_1' % fan, 3393 + 11 * v + fan))
    for cpu in (0, 1):
        for core in range(CORES):
            items.append(('temperature', 'p%d_core%d_temp' % (cpu, core), 30000 + 1000 * ((core + v + cpu) % 12)))
        items.append(('temperature', 'p%d_vdd_temp' % cpu, 40000 + 500 * v))
        items.append(('temperature', 'p%d_vdn_temp' % cpu, 39000 + 250 * v))
        items.append(('power', 'p%d_power' % cpu, 120000000 + 1000000 * v))
        items.append(('power', 'p%d_io_power' % cpu, 11000000))
        items.append(('power', 'p%d_mem_power' % cpu, 23500000 + 500000 * cpu))
        items.append(('voltage', 'p%d_vdn_voltage' % cpu, 799 + v))
        items.append(('current', 'p%d_vdn_current' % cpu, 8125 + 125 * v))
        items.append(('power', 'p%d_vdn_power' % cpu, 6500000))
    empty = empty_dimms(index)
    for dimm in range(DIMMS):
        if dimm not in empty:
            items.append(('temperature', 'dimm%d_temp' % dimm, 31000 + 1000 * (dimm % 4)))
    for gpu in range(len(GPUS)):
        items.append(('temperature', 'gpu%d_core_temp' % gpu, 33000 + 1000 * gpu))
        items.append(('temperature', 'gpu%d_mem_temp' % gpu, 35000 + 1000 * gpu))
    for psu in (0, 1):
        items.append(('power', 'ps%d_input_power' % psu, 480000000 + 2000000 * v))
        items.append(('voltage', 'ps%d_input_voltage' % psu, 208000))
        items.append(('current', 'ps%d_output_current' % psu, 34000 + 250 * v))
        items.append(('voltage', 'ps%d_output_voltage' % psu, 12187))
    items.append(('power', 'total_power', 620000000 + 4000000 * v))
    items.append(('power', 'fan_disk_power', 27000000))
    items.append(('power', 'io_power', 41250000))
    items.append(('fan_pwm', 'fan0', 40))
    if has_altitude(index):
        items.append(('altitude', 'altitude', 100 + 10 * v))
    return items


def sensor_objects(bmc):
    """Every object below ``/sensors`` for ``bmc``: ``{path: {property: value}}``."""
    objs = {}
    for namespace, label, value in sensor_list(bmc.index):
        unit, scale, low, high = KINDS[namespace]
        path = '%s/%s/%s' % (SENSORS, namespace, label)
        objs[path] = {
            'CriticalAlarmHigh': False, 'CriticalAlarmLow': False, 'CriticalHigh': high, 'CriticalLow': low,
            'Functional': True, 'MaxValue': 0, 'MinValue': 0, 'Scale': scale, 'Unit': UNIT + unit,
            'Value': value, 'WarningAlarmHigh': False, 'WarningAlarmLow': False,
            'WarningHigh': high * 9 // 10, 'WarningLow': low,
        }
        objs[path + '/chassis'] = {'endpoints': [P + '/inventory/system/chassis']}
        objs[path + '/inventory'] = {'endpoints': [BOARD]}
    if has_redundancy_object(bmc.index):
        objs[SENSORS + '/chassis/PowerSupplyRedundancy'] = {'error': 0, 'units': '', 'value': 'Enabled'}
    return objs

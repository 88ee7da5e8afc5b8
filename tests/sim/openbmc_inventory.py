"""Inventory and software objects of a simulated OpenBMC BMC (an AC922-like Witherspoon, 2018 firmware).

Shapes follow docs/COMMANDS.md "Simulated BMC": Inventory.Item (``Present``, ``PrettyName``),
Decorator.Asset, Decorator.Revision, OperationalStatus; software images with Version, Purpose,
Activation, Priority and the ``functional``/``active`` associations. Values vary per node
(serial numbers, empty DIMM slots, CPU cores) and are a pure function of the node's index, so
tests can compute what any node serves (``inventory_objects(bmc)``).
"""

P = '/xyz/openbmc_project'
INVENTORY = P + '/inventory'
SYSTEM = INVENTORY + '/system'
CHASSIS = SYSTEM + '/chassis'
BOARD = CHASSIS + '/motherboard'
SOFTWARE = P + '/software'

ACTIVATION = 'xyz.openbmc_project.Software.Activation.Activations.'
REQUESTED = 'xyz.openbmc_project.Software.Activation.RequestedActivations.'
PURPOSE = 'xyz.openbmc_project.Software.Version.VersionPurpose.'

#: Image ids (docs/COMMANDS.md "Software").
BMC_IMAGE = SOFTWARE + '/221d9020'
PENDING_IMAGE = SOFTWARE + '/7ad96a41'
HOST_IMAGE = SOFTWARE + '/3f07cb6f'
READY_IMAGE = SOFTWARE + '/a3d9c7e2'
HOST_EXTENDED = ('op-build-v2.0.7-22-g2e1b0f2,buildroot-2018.02.1-6-ga8d1126,skiboot-v6.0.5,hostboot-1e9b8f2,'
                 'occ-77bb5e6,linux-4.16.13-openpower1-p8fe1d6f,petitboot-v1.7.2-pa8a2d9e,machine-xml-7cd20a6,'
                 'hostboot-binaries-a5d9e81,capp-ucode-p9-dd2-v4,sbe-8e0105e,hcode-6bf3c0b')

#: Cores per CPU and DIMM slots.
CORES = 24
DIMMS = 16
GPUS = (0, 1, 3, 4)


def _asset(**extra):
    props = {'BuildDate': '', 'Cached': False, 'FieldReplaceable': True, 'Manufacturer': '', 'Model': '',
             'PartNumber': '', 'Present': True, 'PrettyName': '', 'SerialNumber': ''}
    props.update(extra)
    return props


def empty_dimms(index):
    """DIMM slots left empty on node ``index`` (``Present: false``): none, or the last four."""
    return frozenset(range(12, 16)) if index % 3 == 0 else frozenset()


def dead_cores(index):
    """CPU cores (``(cpu, core)``) reported not functional on node ``index``."""
    return frozenset({(1, index % CORES)}) if index % 5 == 0 else frozenset()


def inventory_objects(bmc):
    """Every object below ``/inventory`` for ``bmc``: ``{path: {property: value}}``."""
    i = bmc.index
    objs = {
        SYSTEM: {'AssetTag': '', 'BuildDate': '', 'Cached': False, 'FieldReplaceable': False, 'Manufacturer': '',
                 'Model': '8335-GTA        ', 'PartNumber': '', 'Present': True, 'PrettyName': '',
                 'SerialNumber': ('78%05d' % i).ljust(16)},
        CHASSIS: {'AirCooled': True, 'Type': 'RackMount', 'WaterCooled': False},
        CHASSIS + '/activation': {'endpoints': [BMC_IMAGE, HOST_IMAGE]},
        BOARD: _asset(BuildDate='1996-01-01 - 00:00:00', FieldReplaceable=False, Manufacturer='IBM',
                      Model='2CD4', PartNumber='02CY209', PrettyName='SYSTEM PLANAR   ',
                      SerialNumber='Y131UF%06d' % i),
        BOARD + '/boxelder/bmc': _asset(Manufacturer='IBM', PartNumber='02CY211', PrettyName='BMC PLANAR      ',
                                        SerialNumber='YL30UF%06d' % i),
    }
    dead = dead_cores(i)
    for cpu in (0, 1):
        path = '%s/cpu%d' % (BOARD, cpu)
        objs[path] = _asset(Functional=True, Manufacturer='IBM', PartNumber='01HL322',
                            PrettyName='PROCESSOR MODULE', SerialNumber='YA39%08d' % (i * 2 + cpu), Version='22')
        for core in range(CORES):
            objs['%s/core%d' % (path, core)] = {
                'Associations': [['sensors', 'inventory',
                                  '%s/sensors/temperature/p%d_core%d_temp' % (P, cpu, core)]],
                'Functional': (cpu, core) not in dead, 'Present': True, 'PrettyName': ''}
    empty = empty_dimms(i)
    for dimm in range(DIMMS):
        if dimm in empty:
            objs['%s/dimm%d' % (BOARD, dimm)] = _asset(Present=False)
        else:
            objs['%s/dimm%d' % (BOARD, dimm)] = _asset(
                Manufacturer='0xce80', Model='M393A1G40EB1-CRC    ', PrettyName='0x0c',
                SerialNumber='0x%08x' % (0x0300cf00 + i * DIMMS + dimm), Version='0x00')
    for fan in range(4):
        objs['%s/fan%d' % (BOARD, fan)] = {'Functional': True, 'Present': True, 'PrettyName': 'fan%d' % fan}
    for psu in (0, 1):
        objs['%s/powersupply%d' % (BOARD, psu)] = _asset(
            Functional=True, Manufacturer='ARTE', Model='51E9', PartNumber='01KL471',
            PrettyName='powersupply%d' % psu, SerialNumber='YL10KY%06d' % (i * 2 + psu), Version='')
    for gpu in GPUS:
        objs['%s/gv100card%d' % (BOARD, gpu)] = {'Functional': True, 'Present': True, 'PrettyName': ''}
    return objs


def software_objects(bmc):
    """Every object below ``/software``: a running BMC and Host image, an uploaded Host image
    (``Ready``), and, when ``bmc.pending_firmware`` is set, a BMC image waiting for the next
    BMC reboot (Active, Priority 0, not functional)."""
    def image(purpose, version, activation, priority, extended=''):
        props = {'Activation': ACTIVATION + activation, 'ExtendedVersion': extended, 'Path': '',
                 'Purpose': PURPOSE + purpose, 'RequestedActivation': REQUESTED + 'None', 'Version': version}
        if priority is not None:
            props['Priority'] = priority
            props['Progress'] = 100
        return props

    objs = {
        BMC_IMAGE: image('BMC', 'ibm-v2.0-0-r46-0-gbed584c', 'Active', 1),
        BMC_IMAGE + '/inventory': {'endpoints': [BOARD + '/boxelder/bmc']},
        HOST_IMAGE: image('Host', 'IBM-witherspoon-OP9-v2.0.7-2.11', 'Active', 0, HOST_EXTENDED),
        READY_IMAGE: image('Host', 'IBM-witherspoon-OP9-v2.0.8-2.15', 'Ready', None),
        SOFTWARE + '/functional': {'endpoints': [BMC_IMAGE, HOST_IMAGE]},
        SOFTWARE + '/active': {'endpoints': [BMC_IMAGE, HOST_IMAGE]},
    }
    objs[READY_IMAGE]['Path'] = '/tmp/images/a3d9c7e2'
    if bmc.pending_firmware:
        objs[PENDING_IMAGE] = image('BMC', 'ibm-v2.0-0-r48-0-g3e1b4a7', 'Active', 0)
        objs[SOFTWARE + '/active']['endpoints'].append(PENDING_IMAGE)
    return objs

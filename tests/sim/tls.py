"""Self-signed ECDSA P-256 certificate for the fleet and the one server SSL context all BMCs share."""

import os
import subprocess

from gevent import ssl

#: Certificate lifetime; long enough that a forgotten fleet never trips over it.
CERT_DAYS = 3650

#: Subject common name of the fleet certificate.
CERT_CN = 'xcat-sim-fleet'


def _config_text(ips):
    """Build an OpenSSL ``req`` configuration for one self-signed CA/server certificate.

    :param ips: IP addresses to list as subjectAltName entries (127.0.0.1 is always listed).
    :returns: the configuration text.
    """
    # NOTE: our own config instead of the system openssl.cnf, so -addext never collides with
    # the distribution's v3_ca section and the result does not depend on the host.
    alt = ['IP.1 = 127.0.0.1']
    alt.extend('IP.%d = %s' % (n, ip) for n, ip in enumerate(ips, start=2) if ip != '127.0.0.1')
    return '\n'.join([
        '[req]',
        'distinguished_name = dn',
        'x509_extensions = ext',
        'prompt = no',
        '[dn]',
        'CN = ' + CERT_CN,
        '[ext]',
        # CA:TRUE so clients can use this very file as their CA bundle (verify=<path>).
        'basicConstraints = critical,CA:TRUE',
        'keyUsage = critical,digitalSignature,keyCertSign',
        'extendedKeyUsage = serverAuth',
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid:always',
        'subjectAltName = @alt',
        '[alt]',
    ] + alt) + '\n'


def make_certificate(directory, ips=()):
    """Generate a self-signed ECDSA P-256 certificate and key with the ``openssl`` command.

    :param directory: existing private directory that receives ``fleet-cert.pem`` and ``fleet-key.pem``.
    :param ips: node addresses to put in subjectAltName (hostname checks pass only for listed ones).
    :returns: ``(cert_path, key_path)``.
    :raises RuntimeError: when ``openssl`` is missing or fails.
    """
    conf = os.path.join(directory, 'openssl.cnf')
    cert = os.path.join(directory, 'fleet-cert.pem')
    key = os.path.join(directory, 'fleet-key.pem')
    with open(conf, 'w', encoding='ascii') as fh:
        fh.write(_config_text(ips))
    cmd = ['openssl', 'req', '-x509', '-config', conf,
           '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
           '-keyout', key, '-out', cert, '-days', str(CERT_DAYS)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    except OSError as exc:
        raise RuntimeError('cannot run openssl: %s' % exc) from exc
    if proc.returncode != 0:
        raise RuntimeError('openssl failed (rc %d): %s' % (proc.returncode, proc.stderr.strip()))
    os.chmod(key, 0o600)
    return cert, key


def server_context(cert, key, tickets=0):
    """Build the one server-side SSL context every simulated BMC listener uses.

    :param cert: PEM certificate path.
    :param key: PEM private key path.
    :param tickets: TLS 1.3 session tickets sent per handshake (0: clients cannot resume).
    :returns: a gevent-cooperative :class:`ssl.SSLContext`.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # NOTE: a one-shot client opens a fresh TLS session per command and never resumes; TLS 1.3
    # session tickets would only cost it an encryption and a write per handshake. A warm agent
    # resumes (docs/DESIGN.md, "Warm agent"): fleets that show it send tickets (``--tls-tickets``).
    ctx.num_tickets = tickets
    return ctx

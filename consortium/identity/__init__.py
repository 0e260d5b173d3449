"""Consortium identities: the CA, member certificates with roles, Fabric MSP folders, signatures.

Public API: `Identity`, `load_identity`, `load_certificate`, `verify_signature`,
`CertificateAuthority`, `write_msp`, and `ROLES`.
"""

from consortium.identity.ca import CertificateAuthority, write_msp, write_private_key
from consortium.identity.identity import (
    ATTR_OID,
    DEFAULT_MSP_ID,
    Identity,
    IdentityError,
    cert_attributes,
    cert_roles,
    is_low_s,
    load_certificate,
    load_identity,
    verify_signature,
)

ROLES = ("hospital", "verifier", "aggregator", "auditor", "admin")
ORDERER_ROLE = "orderer"

__all__ = [
    "ATTR_OID",
    "DEFAULT_MSP_ID",
    "ORDERER_ROLE",
    "ROLES",
    "CertificateAuthority",
    "Identity",
    "IdentityError",
    "cert_attributes",
    "cert_roles",
    "is_low_s",
    "load_certificate",
    "load_identity",
    "verify_signature",
    "write_msp",
    "write_private_key",
]

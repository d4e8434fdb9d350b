//! Namespace URIs of the WS-Management dialect Intel AMT speaks.
//!
//! Parsing matches these URIs and local names, never prefixes: AMT's prefixes vary between
//! firmware versions and between normal replies and faults.

/// SOAP 1.2 envelope.
pub const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing (the 2004/08 submission AMT uses).
pub const ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// WS-Management (DSP0226).
pub const WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
/// WS-Transfer.
pub const TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer";
/// WS-Enumeration.
pub const ENUMERATION: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
/// WS-Eventing (declared by AMT in fault replies).
pub const EVENTING: &str = "http://schemas.xmlsoap.org/ws/2004/08/eventing";
/// WS-Management Identify (DSP8012).
pub const IDENTITY: &str = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd";
/// DASH additions to the Identify reply (`DASHVersion`).
pub const DASH: &str = "http://schemas.dmtf.org/wbem/dash/1/dash.xsd";
/// WS-Management CIM binding (declared by AMT on every reply).
pub const CIM_BINDING: &str = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd";
/// WS-Trust (declared by AMT on every reply).
pub const TRUST: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";
/// WS-Security extension (declared by AMT on every reply).
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// XML Schema instance (`xsi:nil`).
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The namespace the `xml:` prefix is bound to (`xml:lang`).
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Base of DMTF CIM class URIs; append the class name.
pub const CIM_SCHEMA: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/";
/// Base of Intel AMT class URIs; append the class name.
pub const AMT_SCHEMA: &str = "http://intel.com/wbem/wscim/1/amt-schema/1/";
/// Base of Intel IPS class URIs; append the class name.
pub const IPS_SCHEMA: &str = "http://intel.com/wbem/wscim/1/ips-schema/1/";

/// The WS-Addressing anonymous endpoint: AMT's `To` in replies, and our `ReplyTo` address.
pub const ANONYMOUS: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";

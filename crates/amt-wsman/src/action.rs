//! Action URIs (`wsa:Action`).
//!
//! An invoke's action is `<resource URI>/<method>` and its reply's `<resource URI>/<method>Response`.

/// WS-Transfer Get.
pub const GET: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get";
/// Reply to WS-Transfer Get.
pub const GET_RESPONSE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse";
/// WS-Enumeration Enumerate.
pub const ENUMERATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate";
/// Reply to WS-Enumeration Enumerate.
pub const ENUMERATE_RESPONSE: &str =
    "http://schemas.xmlsoap.org/ws/2004/09/enumeration/EnumerateResponse";
/// WS-Enumeration Pull.
pub const PULL: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull";
/// Reply to WS-Enumeration Pull.
pub const PULL_RESPONSE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/PullResponse";
/// `CIM_PowerManagementService.RequestPowerStateChange`.
pub const REQUEST_POWER_STATE_CHANGE: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService/RequestPowerStateChange";
/// Reply to `RequestPowerStateChange`.
pub const REQUEST_POWER_STATE_CHANGE_RESPONSE: &str = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService/RequestPowerStateChangeResponse";
/// Fault with a WS-Addressing (or SOAP) subcode.
pub const ADDRESSING_FAULT: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault";
/// Fault with a WS-Management subcode.
pub const WSMAN_FAULT: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault";
/// Fault with a WS-Enumeration subcode.
pub const ENUMERATION_FAULT: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/fault";

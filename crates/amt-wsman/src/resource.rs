//! Resource URIs of the CIM, AMT and IPS classes the power calls use.
//!
//! For these classes the resource URI is also the XML namespace of the class's instances.

/// `CIM_AssociatedPowerManagementService`: current power state and the transitions allowed now.
pub const CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_AssociatedPowerManagementService";
/// `CIM_PowerManagementService`: owner of `RequestPowerStateChange`.
pub const CIM_POWER_MANAGEMENT_SERVICE: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService";
/// `CIM_PowerManagementCapabilities`: the static power capabilities.
pub const CIM_POWER_MANAGEMENT_CAPABILITIES: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementCapabilities";
/// `CIM_SoftwareIdentity`: firmware versions, one instance per `InstanceID`.
pub const CIM_SOFTWARE_IDENTITY: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_SoftwareIdentity";
/// `CIM_ComputerSystem`: the managed host, referenced by `RequestPowerStateChange`.
pub const CIM_COMPUTER_SYSTEM: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ComputerSystem";
/// `IPS_PowerManagementService`: the OS power saving state (AMT 10 and later).
pub const IPS_POWER_MANAGEMENT_SERVICE: &str =
    "http://intel.com/wbem/wscim/1/ips-schema/1/IPS_PowerManagementService";

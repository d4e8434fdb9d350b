//! The typed CIM instances power management reads, and their XML form.
//!
//! Values stay raw CIM numbers (`PowerState` as `u16`, `ReturnValue` as `u32`); their meaning
//! is the business of `amt-power`. Reading is strict: a required property that is missing or
//! repeated, or a number that does not parse, is an error; unknown properties are ignored.

use std::str::FromStr;

use crate::error::{Error, quoted};
use crate::ns;
use crate::resource;
use crate::selector::{EndpointReference, SelectorSet};
use crate::xml::{Element, trim_xml};

const U16: &str = "an unsigned 16-bit integer";
const U32: &str = "an unsigned 32-bit integer";

/// `CIM_AssociatedPowerManagementService`: the host's power state and what it may become now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PowerStatus {
    /// `PowerState`: the current CIM power state (2 on, 8 off-soft, …).
    pub power_state: u16,
    /// `AvailableRequestedPowerStates`: the `PowerState` values a change may request right now,
    /// in the device's order.
    pub available_requested_power_states: Vec<u16>,
    /// `RequestedPowerState`: the last state requested, when the device reports it.
    pub requested_power_state: Option<u16>,
}

impl PowerStatus {
    const CLASS: &'static str = "CIM_AssociatedPowerManagementService";

    /// The instance element, as AMT writes it (with its `ServiceProvided` and `UserOfService`
    /// references).
    pub fn to_element(&self) -> Element {
        let ns = resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE;
        let mut element = Element::new(ns, Self::CLASS);
        for state in &self.available_requested_power_states {
            element =
                element.with_child(number_element(ns, "AvailableRequestedPowerStates", state));
        }
        element = element.with_child(number_element(ns, "PowerState", &self.power_state));
        if let Some(requested) = self.requested_power_state {
            element = element.with_child(number_element(ns, "RequestedPowerState", &requested));
        }
        element
            .with_child(
                EndpointReference::new(
                    resource::CIM_POWER_MANAGEMENT_SERVICE,
                    SelectorSet::new()
                        .with("CreationClassName", "CIM_PowerManagementService")
                        .with("Name", POWER_MANAGEMENT_SERVICE_NAME)
                        .with("SystemCreationClassName", "CIM_ComputerSystem")
                        .with("SystemName", "Intel(r) AMT"),
                )
                .to_element(ns, "ServiceProvided"),
            )
            .with_child(EndpointReference::managed_system().to_element(ns, "UserOfService"))
    }

    /// Reads the instance element.
    pub fn from_element(element: &Element) -> Result<Self, Error> {
        let ns = resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE;
        expect_element(element, ns, Self::CLASS)?;
        Ok(Self {
            power_state: required_number(element, ns, "PowerState", U16)?,
            available_requested_power_states: number_list(
                element,
                ns,
                "AvailableRequestedPowerStates",
                U16,
            )?,
            requested_power_state: optional_number(element, ns, "RequestedPowerState", U16)?,
        })
    }
}

/// `CIM_PowerManagementCapabilities`: what the platform supports, independent of its state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PowerCapabilities {
    /// `PowerChangeCapabilities` (3 power state settable, 4 power cycling, 7 HW reset,
    /// 8 graceful shutdown, …).
    pub power_change_capabilities: Vec<u16>,
    /// `PowerStatesSupported`: `PowerState` values the platform supports at all.
    pub power_states_supported: Vec<u16>,
    /// `RequestedPowerStatesSupported`, when the device reports it.
    pub requested_power_states_supported: Vec<u16>,
}

impl PowerCapabilities {
    const CLASS: &'static str = "CIM_PowerManagementCapabilities";

    /// The instance element, as AMT writes it.
    pub fn to_element(&self) -> Element {
        let ns = resource::CIM_POWER_MANAGEMENT_CAPABILITIES;
        Element::new(ns, Self::CLASS)
            .with_child(
                Element::new(ns, "ElementName")
                    .with_text("Intel(r) AMT Power Management Capabilities"),
            )
            .with_child(
                Element::new(ns, "InstanceID")
                    .with_text("Intel(r) AMT:PowerManagementCapabilities 0"),
            )
            .with_children(numbers(
                ns,
                "PowerChangeCapabilities",
                &self.power_change_capabilities,
            ))
            .with_children(numbers(
                ns,
                "PowerStatesSupported",
                &self.power_states_supported,
            ))
            .with_children(numbers(
                ns,
                "RequestedPowerStatesSupported",
                &self.requested_power_states_supported,
            ))
    }

    /// Reads the instance element.
    pub fn from_element(element: &Element) -> Result<Self, Error> {
        let ns = resource::CIM_POWER_MANAGEMENT_CAPABILITIES;
        expect_element(element, ns, Self::CLASS)?;
        Ok(Self {
            power_change_capabilities: number_list(element, ns, "PowerChangeCapabilities", U16)?,
            power_states_supported: number_list(element, ns, "PowerStatesSupported", U16)?,
            requested_power_states_supported: number_list(
                element,
                ns,
                "RequestedPowerStatesSupported",
                U16,
            )?,
        })
    }
}

/// One `CIM_SoftwareIdentity` instance: a firmware component and its version.
///
/// The AMT firmware version is the instance whose `InstanceID` is `AMT` (e.g. `16.1.25`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoftwareIdentity {
    /// `InstanceID`: `AMT`, `Flash`, `Netstack`, `Sku`, … (exact text).
    pub instance_id: String,
    /// `VersionString` (exact text).
    pub version_string: String,
    /// `IsEntity`, when present.
    pub is_entity: Option<bool>,
}

impl SoftwareIdentity {
    const CLASS: &'static str = "CIM_SoftwareIdentity";

    /// The `InstanceID` of the AMT firmware's own instance.
    pub const AMT_INSTANCE_ID: &'static str = "AMT";

    /// The instance element, as AMT writes it.
    pub fn to_element(&self) -> Element {
        let ns = resource::CIM_SOFTWARE_IDENTITY;
        let mut element = Element::new(ns, Self::CLASS)
            .with_child(Element::new(ns, "InstanceID").with_text(self.instance_id.clone()));
        if let Some(is_entity) = self.is_entity {
            element = element.with_child(Element::new(ns, "IsEntity").with_text(if is_entity {
                "true"
            } else {
                "false"
            }));
        }
        element.with_child(Element::new(ns, "VersionString").with_text(self.version_string.clone()))
    }

    /// Reads the instance element.
    pub fn from_element(element: &Element) -> Result<Self, Error> {
        let ns = resource::CIM_SOFTWARE_IDENTITY;
        expect_element(element, ns, Self::CLASS)?;
        let is_entity = match element.optional_child(ns, "IsEntity")? {
            Some(e) if !e.is_nil() => Some(boolean(e)?),
            _ => None,
        };
        Ok(Self {
            instance_id: required_text(element, ns, "InstanceID")?.to_owned(),
            version_string: required_text(element, ns, "VersionString")?.to_owned(),
            is_entity,
        })
    }
}

/// The WS-Management Identify reply (`IdentifyResponse`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `ProtocolVersion`: the WS-Management namespace URI (trimmed).
    pub protocol_version: String,
    /// `ProductVendor`, e.g. `Intel(r)` (exact).
    pub product_vendor: String,
    /// `ProductVersion`, e.g. `AMT 16.1` (exact).
    pub product_version: String,
    /// DASH `DASHVersion`, e.g. `1.0.0`, when present (exact).
    pub dash_version: Option<String>,
    /// `SecurityProfiles/SecurityProfileName` URIs (trimmed).
    pub security_profiles: Vec<String>,
}

impl Identity {
    /// The AMT `major.minor` version from [`Identity::product_version`] (`AMT 16.1` → `16.1`),
    /// when it has that form.
    pub fn amt_version(&self) -> Option<&str> {
        let rest = self
            .product_version
            .trim()
            .strip_prefix("AMT")?
            .trim_start();
        rest.starts_with(|c: char| c.is_ascii_digit())
            .then_some(rest)
    }

    pub(crate) fn to_element(&self) -> Element {
        let id = ns::IDENTITY;
        let mut element = Element::new(id, "IdentifyResponse")
            .with_child(
                Element::new(id, "ProtocolVersion").with_text(self.protocol_version.clone()),
            )
            .with_child(Element::new(id, "ProductVendor").with_text(self.product_vendor.clone()))
            .with_child(Element::new(id, "ProductVersion").with_text(self.product_version.clone()));
        if let Some(dash) = &self.dash_version {
            element =
                element.with_child(Element::new(ns::DASH, "DASHVersion").with_text(dash.clone()));
        }
        if !self.security_profiles.is_empty() {
            element = element.with_child(
                Element::new(id, "SecurityProfiles").with_children(
                    self.security_profiles
                        .iter()
                        .map(|p| Element::new(id, "SecurityProfileName").with_text(p.clone())),
                ),
            );
        }
        element
    }

    pub(crate) fn from_element(element: &Element) -> Result<Self, Error> {
        let id = ns::IDENTITY;
        expect_element(element, id, "IdentifyResponse")?;
        let security_profiles = match element.optional_child(id, "SecurityProfiles")? {
            Some(profiles) => profiles
                .children_named(id, "SecurityProfileName")
                .map(|p| trim_xml(p.text()).to_owned())
                .collect(),
            None => Vec::new(),
        };
        Ok(Self {
            protocol_version: trim_xml(required_text(element, id, "ProtocolVersion")?).to_owned(),
            product_vendor: required_text(element, id, "ProductVendor")?.to_owned(),
            product_version: required_text(element, id, "ProductVersion")?.to_owned(),
            dash_version: element
                .optional_child(ns::DASH, "DASHVersion")?
                .map(|d| d.text().to_owned()),
            security_profiles,
        })
    }
}

/// `Name` of AMT's power management service, the header selector `RequestPowerStateChange` uses.
pub(crate) const POWER_MANAGEMENT_SERVICE_NAME: &str = "Intel(r) AMT Power Management Service";

/// `RequestPowerStateChange_INPUT` with `PowerState` and, when given, the `ManagedElement`
/// reference.
pub(crate) fn power_change_input(
    power_state: u16,
    managed_element: Option<&EndpointReference>,
) -> Element {
    let ns = resource::CIM_POWER_MANAGEMENT_SERVICE;
    let input = Element::new(ns, "RequestPowerStateChange_INPUT").with_child(number_element(
        ns,
        "PowerState",
        &power_state,
    ));
    match managed_element {
        Some(reference) => input.with_child(reference.to_element(ns, "ManagedElement")),
        None => input,
    }
}

/// The `PowerState` and the `ManagedElement` (when present) of a
/// `RequestPowerStateChange_INPUT`.
pub(crate) fn read_power_change_input(
    input: &Element,
) -> Result<(u16, Option<EndpointReference>), Error> {
    let ns = resource::CIM_POWER_MANAGEMENT_SERVICE;
    expect_element(input, ns, "RequestPowerStateChange_INPUT")?;
    let power_state = required_number(input, ns, "PowerState", U16)?;
    let managed_element = input
        .optional_child(ns, "ManagedElement")?
        .map(EndpointReference::from_element)
        .transpose()?;
    Ok((power_state, managed_element))
}

/// `RequestPowerStateChange_OUTPUT` with `ReturnValue`.
pub(crate) fn power_change_output(return_value: u32) -> Element {
    let ns = resource::CIM_POWER_MANAGEMENT_SERVICE;
    Element::new(ns, "RequestPowerStateChange_OUTPUT").with_child(number_element(
        ns,
        "ReturnValue",
        &return_value,
    ))
}

/// The `ReturnValue` of a `RequestPowerStateChange_OUTPUT`.
pub(crate) fn power_change_return_value(output: &Element) -> Result<u32, Error> {
    let ns = resource::CIM_POWER_MANAGEMENT_SERVICE;
    expect_element(output, ns, "RequestPowerStateChange_OUTPUT")?;
    required_number(output, ns, "ReturnValue", U32)
}

/// `IPS_PowerManagementService` as AMT writes it, with `OSPowerSavingState`.
pub(crate) fn os_power_element(os_power_saving_state: u16) -> Element {
    let ns = resource::IPS_POWER_MANAGEMENT_SERVICE;
    Element::new(ns, "IPS_PowerManagementService")
        .with_child(Element::new(ns, "CreationClassName").with_text("IPS_PowerManagementService"))
        .with_child(Element::new(ns, "ElementName").with_text(POWER_MANAGEMENT_SERVICE_NAME))
        .with_child(Element::new(ns, "Name").with_text(POWER_MANAGEMENT_SERVICE_NAME))
        .with_child(number_element(
            ns,
            "OSPowerSavingState",
            &os_power_saving_state,
        ))
        .with_child(Element::new(ns, "SystemCreationClassName").with_text("CIM_ComputerSystem"))
        .with_child(Element::new(ns, "SystemName").with_text("Intel(r) AMT"))
}

/// The `OSPowerSavingState` of an `IPS_PowerManagementService` instance.
pub(crate) fn os_power_state(element: &Element) -> Result<u16, Error> {
    let ns = resource::IPS_POWER_MANAGEMENT_SERVICE;
    expect_element(element, ns, "IPS_PowerManagementService")?;
    required_number(element, ns, "OSPowerSavingState", U16)
}

/// Checks that `element` is `name` in `namespace`.
pub(crate) fn expect_element(element: &Element, namespace: &str, name: &str) -> Result<(), Error> {
    if element.is(namespace, name) {
        Ok(())
    } else {
        Err(Error::UnexpectedElement {
            expected: format!("{{{namespace}}}{name}"),
            found: element.clark_name(),
        })
    }
}

fn number_element(namespace: &'static str, name: &'static str, value: &impl ToString) -> Element {
    Element::new(namespace, name).with_text(value.to_string())
}

fn numbers<'a, T: ToString>(
    namespace: &'static str,
    name: &'static str,
    values: &'a [T],
) -> impl Iterator<Item = Element> + 'a {
    values
        .iter()
        .map(move |v| number_element(namespace, name, v))
}

/// The element's text, trimmed, as a number.
pub(crate) fn number<T: FromStr>(element: &Element, expected: &'static str) -> Result<T, Error> {
    trim_xml(element.text())
        .parse()
        .map_err(|_| Error::InvalidValue {
            element: quoted(element.name()),
            value: quoted(element.text()),
            expected,
        })
}

fn required_number<T: FromStr>(
    parent: &Element,
    namespace: &str,
    name: &str,
    expected: &'static str,
) -> Result<T, Error> {
    number(parent.required_child(namespace, name)?, expected)
}

fn optional_number<T: FromStr>(
    parent: &Element,
    namespace: &str,
    name: &str,
    expected: &'static str,
) -> Result<Option<T>, Error> {
    match parent.optional_child(namespace, name)? {
        Some(element) if !element.is_nil() => number(element, expected).map(Some),
        _ => Ok(None),
    }
}

fn number_list<T: FromStr>(
    parent: &Element,
    namespace: &str,
    name: &str,
    expected: &'static str,
) -> Result<Vec<T>, Error> {
    parent
        .children_named(namespace, name)
        .filter(|e| !e.is_nil())
        .map(|e| number(e, expected))
        .collect()
}

fn required_text<'a>(parent: &'a Element, namespace: &str, name: &str) -> Result<&'a str, Error> {
    Ok(parent.required_child(namespace, name)?.text())
}

/// An `xs:boolean`: `true`, `false`, `1` or `0`, surrounded by whitespace or not.
fn boolean(element: &Element) -> Result<bool, Error> {
    match trim_xml(element.text()) {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::InvalidValue {
            element: quoted(element.name()),
            value: quoted(element.text()),
            expected: "a boolean",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Attribute;

    #[test]
    fn power_status_round_trips_through_its_element() {
        let status = PowerStatus {
            power_state: 2,
            available_requested_power_states: vec![10, 8, 5, 11],
            requested_power_state: Some(2),
        };
        assert_eq!(PowerStatus::from_element(&status.to_element()), Ok(status));
    }

    #[test]
    fn power_status_needs_exactly_one_numeric_power_state() {
        let ns = resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE;
        let bare = Element::new(ns, "CIM_AssociatedPowerManagementService");
        assert_eq!(
            PowerStatus::from_element(&bare),
            Err(Error::MissingElement {
                parent: "CIM_AssociatedPowerManagementService".into(),
                element: "PowerState".into()
            })
        );
        let twice = bare
            .clone()
            .with_child(Element::new(ns, "PowerState").with_text("2"))
            .with_child(Element::new(ns, "PowerState").with_text("8"));
        assert!(matches!(
            PowerStatus::from_element(&twice),
            Err(Error::DuplicateElement { .. })
        ));
        let words = bare
            .clone()
            .with_child(Element::new(ns, "PowerState").with_text("on"));
        assert_eq!(
            PowerStatus::from_element(&words),
            Err(Error::InvalidValue {
                element: "PowerState".into(),
                value: "on".into(),
                expected: U16
            })
        );
        let too_big = bare.with_child(Element::new(ns, "PowerState").with_text("65536"));
        assert!(matches!(
            PowerStatus::from_element(&too_big),
            Err(Error::InvalidValue { .. })
        ));
    }

    #[test]
    fn nil_optional_values_read_as_absent() {
        let ns = resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE;
        let element = Element::new(ns, "CIM_AssociatedPowerManagementService")
            .with_child(Element::new(ns, "PowerState").with_text(" 8 "))
            .with_child(
                Element::new(ns, "RequestedPowerState").with_attribute(Attribute::new(
                    ns::XSI,
                    "nil",
                    "true",
                )),
            );
        let status = PowerStatus::from_element(&element).unwrap();
        assert_eq!(status.power_state, 8);
        assert_eq!(status.requested_power_state, None);
    }

    #[test]
    fn wrong_class_is_refused() {
        let other = Element::new(resource::CIM_SOFTWARE_IDENTITY, "CIM_SoftwareIdentity");
        assert!(matches!(
            PowerStatus::from_element(&other),
            Err(Error::UnexpectedElement { .. })
        ));
    }

    #[test]
    fn software_identity_reads_booleans() {
        let id = SoftwareIdentity {
            instance_id: "AMT".into(),
            version_string: "16.1.25".into(),
            is_entity: Some(true),
        };
        assert_eq!(
            SoftwareIdentity::from_element(&id.to_element()),
            Ok(id.clone())
        );
        let ns = resource::CIM_SOFTWARE_IDENTITY;
        let odd = Element::new(ns, "CIM_SoftwareIdentity")
            .with_child(Element::new(ns, "InstanceID").with_text("AMT"))
            .with_child(Element::new(ns, "VersionString").with_text("1"))
            .with_child(Element::new(ns, "IsEntity").with_text("yes"));
        assert!(matches!(
            SoftwareIdentity::from_element(&odd),
            Err(Error::InvalidValue { .. })
        ));
    }

    #[test]
    fn identity_extracts_the_amt_version() {
        let mut identity = Identity {
            protocol_version: ns::WSMAN.into(),
            product_vendor: "Intel(r)".into(),
            product_version: "AMT 16.1".into(),
            dash_version: Some("1.0.0".into()),
            security_profiles: vec!["urn:p".into()],
        };
        assert_eq!(identity.amt_version(), Some("16.1"));
        assert_eq!(
            Identity::from_element(&identity.to_element()),
            Ok(identity.clone())
        );
        identity.product_version = "Other 1".into();
        assert_eq!(identity.amt_version(), None);
        identity.product_version = "AMT".into();
        assert_eq!(identity.amt_version(), None);
        identity.product_version = "AMTX 1".into();
        assert_eq!(identity.amt_version(), None);
        identity.product_version = "AMT11.8".into();
        assert_eq!(identity.amt_version(), Some("11.8"));
    }

    #[test]
    fn power_change_elements_round_trip() {
        let host = EndpointReference::managed_system();
        assert_eq!(
            read_power_change_input(&power_change_input(12, Some(&host))),
            Ok((12, Some(host)))
        );
        assert_eq!(
            read_power_change_input(&power_change_input(8, None)),
            Ok((8, None))
        );
        assert_eq!(
            power_change_return_value(&power_change_output(4099)),
            Ok(4099)
        );
        assert_eq!(os_power_state(&os_power_element(3)), Ok(3));
        assert_eq!(
            PowerCapabilities::from_element(
                &PowerCapabilities {
                    power_change_capabilities: vec![2, 3],
                    power_states_supported: vec![2, 8],
                    requested_power_states_supported: vec![],
                }
                .to_element()
            )
            .map(|c| c.power_states_supported),
            Ok(vec![2, 8])
        );
    }
}

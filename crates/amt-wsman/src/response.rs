//! The replies a device sends.

use std::borrow::Cow;

use crate::action;
use crate::cim::{self, Identity, PowerCapabilities, PowerStatus, SoftwareIdentity};
use crate::enumeration::{self, EnumerationContext, PullResponse};
use crate::resource;
use crate::xml::Element;

/// A successful reply, one variant per kind of [`Call`](crate::Call).
///
/// The device side renders it with [`device::build_response`](crate::device::build_response);
/// the client side gets it back from [`client::parse_response`](crate::client::parse_response)
/// (or the typed `client::parse_*` functions). Faults are not responses: they are
/// [`Fault`](crate::Fault) values, built with [`device::build_fault`](crate::device::build_fault)
/// and read as [`Error::Fault`](crate::Error::Fault).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// Reply to [`Call::PowerState`](crate::Call::PowerState).
    PowerState(PowerStatus),
    /// Reply to [`Call::RequestPowerStateChange`](crate::Call::RequestPowerStateChange).
    RequestPowerStateChange {
        /// `ReturnValue`: 0 completed, 2 not possible now, 4096 job started, … (0 does not
        /// prove the change happened).
        return_value: u32,
    },
    /// Reply to [`Call::AmtVersion`](crate::Call::AmtVersion): the `InstanceID=AMT` instance.
    AmtVersion(SoftwareIdentity),
    /// Reply to [`Call::PowerCapabilities`](crate::Call::PowerCapabilities).
    PowerCapabilities(PowerCapabilities),
    /// Reply to [`Call::OsPowerState`](crate::Call::OsPowerState).
    OsPowerState {
        /// `OSPowerSavingState`: 0 unknown, 1 unsupported, 2 full power, 3 OS power saving.
        os_power_saving_state: u16,
    },
    /// Reply to [`Call::Identify`](crate::Call::Identify).
    Identify(Identity),
    /// Reply to [`Call::Get`](crate::Call::Get): the instance, whose namespace is the resource URI.
    Get(Element),
    /// Reply to [`Call::Enumerate`](crate::Call::Enumerate).
    Enumerate {
        /// The enumerated class.
        resource_uri: String,
        /// The context for the first `Pull`.
        context: EnumerationContext,
    },
    /// Reply to [`Call::Pull`](crate::Call::Pull).
    Pull {
        /// The enumerated class.
        resource_uri: String,
        /// The page.
        page: PullResponse<Element>,
    },
    /// Reply to [`Call::Invoke`](crate::Call::Invoke).
    Invoke {
        /// The method invoked.
        method: String,
        /// The `<method>_OUTPUT` element, in the resource URI's namespace.
        output: Element,
    },
}

impl Response {
    /// The reply's `wsa:Action`; `None` for Identify, whose reply has no addressing headers.
    pub fn action(&self) -> Option<Cow<'static, str>> {
        Some(match self {
            Self::PowerState(_)
            | Self::AmtVersion(_)
            | Self::PowerCapabilities(_)
            | Self::OsPowerState { .. }
            | Self::Get(_) => Cow::Borrowed(action::GET_RESPONSE),
            Self::RequestPowerStateChange { .. } => {
                Cow::Borrowed(action::REQUEST_POWER_STATE_CHANGE_RESPONSE)
            }
            Self::Identify(_) => return None,
            Self::Enumerate { .. } => Cow::Borrowed(action::ENUMERATE_RESPONSE),
            Self::Pull { .. } => Cow::Borrowed(action::PULL_RESPONSE),
            Self::Invoke { method, output } => {
                Cow::Owned(format!("{}/{method}Response", output.namespace()))
            }
        })
    }

    /// The `wsman:ResourceURI` AMT puts in the reply header; `None` for Identify.
    pub fn resource_uri(&self) -> Option<&str> {
        Some(match self {
            Self::PowerState(_) => resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE,
            Self::RequestPowerStateChange { .. } => resource::CIM_POWER_MANAGEMENT_SERVICE,
            Self::AmtVersion(_) => resource::CIM_SOFTWARE_IDENTITY,
            Self::PowerCapabilities(_) => resource::CIM_POWER_MANAGEMENT_CAPABILITIES,
            Self::OsPowerState { .. } => resource::IPS_POWER_MANAGEMENT_SERVICE,
            Self::Identify(_) => return None,
            Self::Get(instance) => instance.namespace(),
            Self::Enumerate { resource_uri, .. } | Self::Pull { resource_uri, .. } => resource_uri,
            Self::Invoke { output, .. } => output.namespace(),
        })
    }

    /// The body's payload element.
    pub(crate) fn payload(&self) -> Element {
        match self {
            Self::PowerState(status) => status.to_element(),
            Self::RequestPowerStateChange { return_value } => {
                cim::power_change_output(*return_value)
            }
            Self::AmtVersion(identity) => identity.to_element(),
            Self::PowerCapabilities(capabilities) => capabilities.to_element(),
            Self::OsPowerState {
                os_power_saving_state,
            } => cim::os_power_element(*os_power_saving_state),
            Self::Identify(identity) => identity.to_element(),
            Self::Get(instance) => instance.clone(),
            Self::Enumerate { context, .. } => enumeration::enumerate_response(context),
            Self::Pull { page, .. } => enumeration::pull_response(page),
            Self::Invoke { output, .. } => output.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_reply_action_follows_the_output_namespace() {
        let response = Response::Invoke {
            method: "M".into(),
            output: Element::new("urn:r", "M_OUTPUT"),
        };
        assert_eq!(response.action().as_deref(), Some("urn:r/MResponse"));
        assert_eq!(response.resource_uri(), Some("urn:r"));
    }

    #[test]
    fn typed_replies_name_their_class() {
        let response = Response::RequestPowerStateChange { return_value: 0 };
        assert_eq!(
            response.action().as_deref(),
            Some(action::REQUEST_POWER_STATE_CHANGE_RESPONSE)
        );
        assert_eq!(
            response.resource_uri(),
            Some(resource::CIM_POWER_MANAGEMENT_SERVICE)
        );
        let identify = Response::Identify(Identity {
            protocol_version: String::new(),
            product_vendor: String::new(),
            product_version: String::new(),
            dash_version: None,
            security_profiles: vec![],
        });
        assert_eq!(identify.action(), None);
        assert_eq!(identify.resource_uri(), None);
    }
}

//! Plain domain values shared by every layer: ids, plans, statuses, roles. No I/O.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An account (a business) id.
    AccountId
);
id_type!(
    /// A user id.
    UserId
);
id_type!(
    /// An API token id.
    TokenId
);
id_type!(
    /// A webhook endpoint id.
    EndpointId
);

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $(#[allow(missing_docs)] $variant),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [&'static str] = &[$($text),+];

            /// The stored and displayed name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("`{s}` is not one of: {}", Self::ALL.join(", "))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// The plan an account pays for.
    Plan { Free = "free", Starter = "starter", Pro = "pro" }
);
string_enum!(
    /// Where an account's subscription stands.
    SubscriptionStatus { Trialing = "trialing", Active = "active", PastDue = "past_due", Canceled = "canceled" }
);
string_enum!(
    /// What a user may reach: an agent their own records, an admin the whole account.
    Role { Agent = "agent", Admin = "admin" }
);

/// Why an account may not use the API right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiAccessDenied {
    /// The subscription is neither active nor trialing.
    SubscriptionInactive,
    /// The plan does not include `api_access`.
    PlanUpgradeRequired,
}

/// The account gate: only active or trialing subscriptions, and only plans with
/// `api_access` (pro, or any plan while trialing), may call the API.
pub fn api_access(plan: Plan, status: SubscriptionStatus) -> Result<(), ApiAccessDenied> {
    match status {
        SubscriptionStatus::Trialing => Ok(()),
        SubscriptionStatus::Active if plan == Plan::Pro => Ok(()),
        SubscriptionStatus::Active => Err(ApiAccessDenied::PlanUpgradeRequired),
        SubscriptionStatus::PastDue | SubscriptionStatus::Canceled => {
            Err(ApiAccessDenied::SubscriptionInactive)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pro_or_trialing_accounts_in_good_standing_reach_the_api() {
        use SubscriptionStatus::*;
        assert_eq!(api_access(Plan::Pro, Active), Ok(()));
        assert_eq!(api_access(Plan::Free, Trialing), Ok(()));
        assert_eq!(
            api_access(Plan::Starter, Active),
            Err(ApiAccessDenied::PlanUpgradeRequired)
        );
        assert_eq!(
            api_access(Plan::Pro, PastDue),
            Err(ApiAccessDenied::SubscriptionInactive)
        );
        assert_eq!(
            api_access(Plan::Pro, Canceled),
            Err(ApiAccessDenied::SubscriptionInactive)
        );
    }

    #[test]
    fn enums_parse_their_names_and_explain_the_rest() {
        assert_eq!(
            "past_due".parse::<SubscriptionStatus>(),
            Ok(SubscriptionStatus::PastDue)
        );
        assert!(
            "gold"
                .parse::<Plan>()
                .unwrap_err()
                .contains("free, starter, pro")
        );
    }
}

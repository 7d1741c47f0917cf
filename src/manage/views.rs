//! What the CLI's `--json` and the admin API show of accounts, users, tokens and endpoints.
//! One shape each, so both faces say the same thing. Never a hash or a stored secret.

use serde::Serialize;

use crate::auth::rate_limit::{Limit, default_limits};
use crate::auth::scope::ScopeSet;
use crate::clock;
use crate::model::{AccountId, EndpointId, Plan, Role, SubscriptionStatus, TokenId, UserId};
use crate::store::accounts::Account;
use crate::store::deliveries::{AttemptRow, Delivery};
use crate::store::tokens::Token;
use crate::store::users::User;
use crate::store::webhooks::Endpoint;

/// Tokens expiring within this many days are shown as expiring soon.
const EXPIRING_SOON_MS: i64 = 7 * 86_400_000;

/// A token as shown.
#[derive(Debug, Serialize)]
pub struct TokenView {
    /// Id.
    pub id: TokenId,
    /// Prefix.
    pub prefix: String,
    /// Name.
    pub name: String,
    /// Owner's email.
    pub user: String,
    /// Owner's id.
    pub user_id: UserId,
    /// Account name.
    pub account: String,
    /// Scopes.
    pub scopes: ScopeSet,
    /// `active`, `expiring_soon`, `expired`, `revoked` or `rotated`.
    pub status: &'static str,
    /// Created.
    pub created_at: String,
    /// Expiry, or null for none.
    pub expires_at: Option<String>,
    /// Last call.
    pub last_used_at: Option<String>,
    /// Address of the last call.
    pub last_used_ip: Option<String>,
    /// Revoked.
    pub revoked_at: Option<String>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
    /// Allow-list.
    pub allow_ips: Vec<String>,
    /// Limits in force.
    pub limits: Vec<String>,
    /// Whether those are the server's defaults.
    pub default_limits: bool,
    /// Replaced by this token (rotation).
    pub replaced_by: Option<TokenId>,
    /// Replaces this token (rotation).
    pub replaces: Option<TokenId>,
    /// A rotated token works until then.
    pub grace_until: Option<String>,
}

impl TokenView {
    /// The view of `t`; `defaults` are the server's default limits (built-in ones if `None`).
    pub fn new(t: &Token, defaults: Option<&[Limit]>) -> TokenView {
        let now = clock::now_ms();
        let status = if t.revoked_at.is_some_and(|r| r <= now) {
            if t.replaced_by.is_some() {
                "rotated"
            } else {
                "revoked"
            }
        } else if t.grace_until.is_some_and(|g| g <= now) {
            "rotated"
        } else if t.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else if t.expires_at.is_some_and(|e| e - now <= EXPIRING_SOON_MS) {
            "expiring_soon"
        } else {
            "active"
        };
        let limits = match &t.limits {
            Some(l) => l.clone(),
            None => match defaults {
                Some(d) => d.iter().map(ToString::to_string).collect(),
                None => default_limits().iter().map(ToString::to_string).collect(),
            },
        };
        TokenView {
            id: t.id,
            prefix: t.prefix.clone(),
            name: t.name.clone(),
            user: t.user_email.clone(),
            user_id: t.user_id,
            account: t.account_name.clone(),
            scopes: ScopeSet::from_bits(t.scopes),
            status,
            created_at: clock::format_ms(t.created_at),
            expires_at: t.expires_at.map(clock::format_ms),
            last_used_at: t.last_used_at.map(clock::format_ms),
            last_used_ip: t.last_used_ip.clone(),
            revoked_at: t.revoked_at.map(clock::format_ms),
            revoked_reason: t.revoked_reason.clone(),
            allow_ips: t.allow_ips.clone(),
            default_limits: t.limits.is_none(),
            limits,
            replaced_by: t.replaced_by,
            replaces: t.replaces,
            grace_until: t.grace_until.map(clock::format_ms),
        }
    }
}

/// A token just created or rotated: the view plus the plaintext, shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedTokenView {
    /// The token's view.
    #[serde(flatten)]
    pub view: TokenView,
    /// The whole token.
    pub token: String,
}

/// An account as shown.
#[derive(Debug, Serialize)]
pub struct AccountView {
    /// Id.
    pub id: AccountId,
    /// Name.
    pub name: String,
    /// Plan.
    pub plan: Plan,
    /// Status.
    pub status: SubscriptionStatus,
    /// Whether the API answers this account's tokens now.
    pub api_access: bool,
    /// Account-wide allow-list.
    pub allow_ips: Vec<String>,
    /// Inactivity policy (`90d`), or null.
    pub revoke_unused_after: Option<String>,
    /// Created.
    pub created_at: String,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            id: a.id,
            name: a.name.clone(),
            plan: a.plan,
            status: a.status,
            api_access: crate::model::api_access(a.plan, a.status).is_ok(),
            allow_ips: a.allow_ips.clone(),
            revoke_unused_after: a
                .revoke_unused_after_s
                .map(|s| clock::format_duration(std::time::Duration::from_secs(s as u64))),
            created_at: clock::format_ms(a.created_at),
        }
    }
}

/// A user as shown.
#[derive(Debug, Serialize)]
pub struct UserView {
    /// Id.
    pub id: UserId,
    /// Email.
    pub email: String,
    /// Name.
    pub name: Option<String>,
    /// Role.
    pub role: Role,
    /// Account name.
    pub account: String,
    /// Permissions.
    pub permissions: ScopeSet,
    /// Disabled.
    pub disabled: bool,
    /// Whether the user can sign in to the admin page.
    pub has_password: bool,
    /// Created.
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role,
            account: u.account_name.clone(),
            permissions: ScopeSet::from_bits(u.permissions),
            disabled: u.disabled,
            has_password: u.has_password,
            created_at: clock::format_ms(u.created_at),
        }
    }
}

/// A webhook endpoint as shown (never its secret, except once at creation).
#[derive(Debug, Serialize)]
pub struct EndpointView {
    /// Id.
    pub id: EndpointId,
    /// The account it belongs to (its name).
    pub account: String,
    /// URL.
    pub url: String,
    /// Description.
    pub description: Option<String>,
    /// Subscribed event types.
    pub events: Vec<String>,
    /// Whether deliveries go out.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Created.
    pub created_at: String,
}

impl From<&Endpoint> for EndpointView {
    fn from(e: &Endpoint) -> Self {
        EndpointView {
            id: e.id,
            account: e.account_name.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            events: e.events.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            created_at: clock::format_ms(e.created_at),
        }
    }
}

/// A webhook delivery as shown: its state and its last attempt.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    /// Id.
    pub id: i64,
    /// The endpoint it goes to.
    pub endpoint_id: EndpointId,
    /// The endpoint's account (its name).
    pub account: String,
    /// Event type (`lead.created`, ...).
    pub event_type: String,
    /// The `webhook-id` header, the same on every attempt and replay.
    pub webhook_id: String,
    /// `pending`, `delivered`, `failed` (a retry is scheduled), `dead` or `paused`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due, while one is.
    pub next_attempt_at: Option<String>,
    /// HTTP status of the last answer.
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The first KiB of the last answer.
    pub last_response: Option<String>,
    /// How long the last attempt took.
    pub last_latency_ms: Option<i64>,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        let waiting = matches!(d.status.as_str(), "pending" | "failed");
        DeliveryView {
            id: d.id,
            endpoint_id: d.endpoint_id,
            account: d.account_name.clone(),
            event_type: d.event_type.clone(),
            webhook_id: d.msg_id.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            next_attempt_at: waiting.then(|| clock::format_ms(d.next_attempt_at)),
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            last_response: d.last_response.clone(),
            last_latency_ms: d.last_latency_ms,
            created_at: clock::format_ms(d.created_at),
            updated_at: clock::format_ms(d.updated_at),
        }
    }
}

/// One attempt at a delivery, as shown.
#[derive(Debug, Serialize)]
pub struct AttemptView {
    /// When it started.
    pub attempted_at: String,
    /// HTTP status of the answer, if one came.
    pub status: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: i64,
}

impl From<&AttemptRow> for AttemptView {
    fn from(a: &AttemptRow) -> Self {
        AttemptView {
            attempted_at: clock::format_ms(a.attempted_at),
            status: a.status,
            error: a.error.clone(),
            latency_ms: a.latency_ms,
        }
    }
}

//! `/admin/api/users`: the account's people, their roles and permissions (admins only).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::body::{self, path_id};
use super::session::AdminSession;
use super::{change, read};
use crate::auth::AuthState;
use crate::error::ApiError;
use crate::manage::users::{self as manage_users, UserChanges, UserInput};
use crate::manage::views::UserView;
use crate::model::{Role, UserId};
use crate::store::{Store, sessions, users as store_users};

/// `GET /admin/api/users`
pub async fn list(who: AdminSession, store: web::Data<Store>) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let account = who.account_id();
    let list = read(&store, move |c| Ok(store_users::list(c, Some(account))?)).await?;
    Ok(HttpResponse::Ok().json(list.iter().map(UserView::from).collect::<Vec<_>>()))
}

fn role(s: Option<&str>) -> Result<Option<Role>, ApiError> {
    s.map(|r| {
        r.parse::<Role>()
            .map_err(|e| ApiError::Validation(vec![crate::resources::FieldError::new("role", e)]))
    })
    .transpose()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    email: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
    #[serde(default)]
    password: Option<String>,
}

/// `POST /admin/api/users`: an agent unless `role` says otherwise (least privilege).
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    who: AdminSession,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let b: NewUser = body::parse(&req, payload).await?;
    let input = UserInput {
        email: b.email,
        name: b.name.filter(|n| !n.trim().is_empty()),
        role: role(b.role.as_deref())?.unwrap_or(Role::Agent),
        account: who.who.account_name.clone(),
        permissions: b.permissions,
        password: b.password.filter(|p| !p.is_empty()),
    };
    let field = if input.password.is_some() {
        "password"
    } else {
        "email"
    };
    let user = change(&store, &auth, field, move |c| manage_users::add(c, input)).await?;
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    password: Option<String>,
}

/// `PATCH /admin/api/users/{id}`: role, permissions (the whole set), disabled, name, password.
/// Disabling a user or setting their password ends their open sessions.
pub async fn update(
    req: HttpRequest,
    payload: web::Payload,
    who: AdminSession,
    id: web::Path<String>,
    store: web::Data<Store>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    who.require_admin()?;
    let target = UserId(path_id(&id)?);
    let b: UserPatch = body::parse(&req, payload).await?;
    let changes = UserChanges {
        role: role(b.role.as_deref())?,
        permissions: b.permissions,
        disabled: b.disabled,
        password: b.password,
        name: b.name,
    };
    let field = match (&changes.password, &changes.permissions) {
        (Some(_), _) => "password",
        (None, Some(_)) => "permissions",
        _ => "role",
    };
    let account = who.account_id();
    let me = who.user_id();
    let user = change(&store, &auth, field, move |c| {
        let user = manage_users::require_in_account(c, account, target)?;
        manage_users::keep_an_admin(c, &user, &changes)?;
        let ends_sessions = changes.disabled == Some(true) || changes.password.is_some();
        let updated = manage_users::update(c, &user.email, changes)?;
        if ends_sessions && user.id != me {
            sessions::delete_for_user(c, user.id)?;
        }
        Ok(updated)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

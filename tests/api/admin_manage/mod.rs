//! The admin API's management routes: their effect on `/api/v1` on the very next request,
//! agents' limits, and the rules that keep an account manageable.

mod account;
mod tokens;
mod users;
mod webhooks;

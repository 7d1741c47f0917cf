//! OWASP API Security Top 10 (2023), one module per relevant item.

mod api1_broken_object_level_authorization;
mod api2_broken_authentication;
mod api3_broken_object_property_level_authorization;
mod api4_unrestricted_resource_consumption;
mod api5_broken_function_level_authorization;
mod api7_server_side_request_forgery;
mod api8_security_misconfiguration;

//! Any bytes as a request body: parsed as the API parses it, then through every
//! resource's create and patch validation, whose answers must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(body) = switchboard_fuzz::read_body(data) {
        switchboard_fuzz::check_body(&body);
    }
});

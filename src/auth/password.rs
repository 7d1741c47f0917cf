//! Passwords for the admin page: Argon2id, PHC strings.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Hashes a password with Argon2id and a random salt.
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("could not hash the password: {e}"))
}

/// True when `password` matches the stored PHC string.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A password's strength rule, as a message when it fails.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "the password must be at least {MIN_PASSWORD_LEN} characters long"
        ));
    }
    if password.len() > 1024 {
        return Err("the password must be at most 1024 bytes long".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = super::hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery", &h));
        assert!(!super::verify("wrong horse battery", &h));
        assert!(!super::verify("anything", "not a phc string"));
    }
}

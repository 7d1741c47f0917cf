fn main() {
    // Without this, a new migration file is not embedded until something else changes.
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=static");
}

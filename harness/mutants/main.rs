//! Deliberately broken fixers (being built).
fn main() {
    std::process::exit(2);
}

//! Explicit resource limits for every reader. Each is enforced with
//! [`FormatError::LimitExceeded`](super::error::FormatError::LimitExceeded),
//! so a hostile file can cost at most memory proportional to its own size.

/// Limits applied while reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest serialized element (all its entries), in bytes: 16 MiB.
    pub max_element_size: usize,
    /// Most elements (certificates, CRLs, CTLs) in one store: 50 million.
    pub max_certificates: usize,
    /// Most entries in one element: 4 096.
    pub max_properties_per_element: usize,
    /// Longest physical line of a `.reg` file, in characters: 1 MiB.
    pub max_reg_line_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_element_size: 16 << 20,
            max_certificates: 50_000_000,
            max_properties_per_element: 4096,
            max_reg_line_len: 1 << 20,
        }
    }
}

//! Fleet readiness (being built).

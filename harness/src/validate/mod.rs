//! Validating fix tools before fleet rollout (being built).

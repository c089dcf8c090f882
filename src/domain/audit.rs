//! Audit events: the actions throng records, and a builder for their records.

use crate::store::records::AuditRecord;

/// The actions throng writes to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ServiceAccountCreated,
    ServiceAccountUpdated,
    ServiceAccountArchived,
    ClientSecretRotated,
    ClientAuthenticationFailed,
    TokenRevoked,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ServiceAccountCreated => "SERVICE_ACCOUNT_CREATED",
            Action::ServiceAccountUpdated => "SERVICE_ACCOUNT_UPDATED",
            Action::ServiceAccountArchived => "SERVICE_ACCOUNT_ARCHIVED",
            Action::ClientSecretRotated => "CLIENT_SECRET_ROTATED",
            Action::ClientAuthenticationFailed => "CLIENT_AUTHENTICATION_FAILED",
            Action::TokenRevoked => "TOKEN_REVOKED",
        }
    }
}

/// Who acted and from where: what every audit record carries besides the event.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub remote: String,
}

impl Actor {
    pub fn record(
        &self,
        now: u64,
        action: Action,
        target: &str,
        details: impl Into<String>,
    ) -> AuditRecord {
        AuditRecord {
            id: 0,
            timestamp: now,
            actor: self.name.clone(),
            action: action.as_str().to_string(),
            // Targets can come from callers (an unknown client id); bound what we keep.
            target: target.chars().take(128).collect(),
            details: details.into(),
            remote: self.remote.clone(),
        }
    }
}

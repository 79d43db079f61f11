//! The identities a test cluster knows: static bearer tokens (`--token-auth-file`), so
//! the operator and gateway can run as their service accounts without a token controller
//! (Kubernetes 1.20's apiserver runs no controllers).

/// The namespace the operator's and gateway's service accounts live in.
pub const SYSTEM_NAMESPACE: &str = "hermes-system";

/// Who a client or kubeconfig acts as. RBAC applies to all but `Admin`; bind roles to
/// [`Identity::user_name`] (or, for the service accounts, to a `ServiceAccount` subject
/// in [`SYSTEM_NAMESPACE`], which the apiserver maps to the same user).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    /// Cluster admin (`system:masters`): test setup and assertions.
    Admin,
    /// The operator's service account, `hermes-system/hermes-operator`.
    Operator,
    /// The gateway's service account, `hermes-system/hermes-gateway`.
    Gateway,
    /// An authenticated user with no roles: proves RBAC denies.
    Unprivileged,
}

impl Identity {
    /// Every identity, in token-file order.
    pub const ALL: [Identity; 4] = [
        Identity::Admin,
        Identity::Operator,
        Identity::Gateway,
        Identity::Unprivileged,
    ];

    /// Short name, used in file names and kubeconfig contexts.
    pub fn key(self) -> &'static str {
        match self {
            Identity::Admin => "admin",
            Identity::Operator => "operator",
            Identity::Gateway => "gateway",
            Identity::Unprivileged => "unprivileged",
        }
    }

    /// The user name the apiserver authenticates the token as.
    pub fn user_name(self) -> &'static str {
        match self {
            Identity::Admin => "hermes-test-admin",
            Identity::Operator => "system:serviceaccount:hermes-system:hermes-operator",
            Identity::Gateway => "system:serviceaccount:hermes-system:hermes-gateway",
            Identity::Unprivileged => "hermes-test-user",
        }
    }

    /// The groups the token carries (besides `system:authenticated`, always added).
    pub fn groups(self) -> &'static [&'static str] {
        match self {
            Identity::Admin => &["system:masters"],
            Identity::Operator | Identity::Gateway => &[
                "system:serviceaccounts",
                "system:serviceaccounts:hermes-system",
            ],
            Identity::Unprivileged => &[],
        }
    }

    /// The static bearer token (test-only, never secret).
    pub fn token(self) -> String {
        format!("hermes-test-token-{}", self.key())
    }
}

/// The `--token-auth-file` content: `token,user,uid,"group1,group2"` per line.
pub(crate) fn token_auth_file() -> String {
    Identity::ALL
        .iter()
        .map(|id| {
            format!(
                "{},{},{},\"{}\"\n",
                id.token(),
                id.user_name(),
                id.key(),
                id.groups().join(",")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_gives_the_admin_system_masters() {
        let file = token_auth_file();
        assert!(
            file.contains("hermes-test-token-admin,hermes-test-admin,admin,\"system:masters\"\n")
        );
        assert_eq!(file.lines().count(), Identity::ALL.len());
    }
}

//! Installing the Hermes CRDs, generated from the API types, into a test cluster.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::error::ClusterError;
use crate::wait::wait_for;

/// The field manager the test environment applies with.
pub const FIELD_MANAGER: &str = "hermes-tests";

/// The CRDs of Tag, Trigger and LookupTable, straight from the types.
pub fn hermes_crds() -> Vec<CustomResourceDefinition> {
    hermes_crds::crd::crds()
        .into_iter()
        .map(|generated| generated.crd)
        .collect()
}

/// Server-side applies [`hermes_crds`] and waits until each is `Established`.
pub(crate) async fn apply(client: &Client) -> Result<(), ClusterError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for crd in hermes_crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(&crd)).await?;
        names.push(name);
    }
    for name in &names {
        wait_for(Duration::from_secs(30), || async {
            let crd = api.get(name).await.map_err(|e| format!("{name}: {e}"))?;
            let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
            let established = conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                Ok(())
            } else {
                let seen: Vec<_> = conditions
                    .iter()
                    .map(|c| {
                        format!(
                            "{}={} ({})",
                            c.type_,
                            c.status,
                            c.message.as_deref().unwrap_or("")
                        )
                    })
                    .collect();
                Err(format!("CRD {name} not Established; conditions: {seen:?}"))
            }
        })
        .await?;
    }
    Ok(())
}

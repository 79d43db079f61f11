//! Installing the Hermes CRDs, generated from the API types, into a test cluster.

use std::time::Duration;

use hermes_crds::api::{LookupTable, Tag, Trigger};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, CustomResourceExt};
use serde_json::Value;

use crate::error::ClusterError;
use crate::wait::wait_for;

/// The field manager the test environment applies with.
pub const FIELD_MANAGER: &str = "hermes-tests";

/// The CRDs of Tag, Trigger and LookupTable, straight from the types.
pub fn hermes_crds() -> Vec<CustomResourceDefinition> {
    vec![Tag::crd(), Trigger::crd(), LookupTable::crd()]
}

/// Server-side applies [`hermes_crds`] and waits until each is `Established`.
pub(crate) async fn apply(client: &Client) -> Result<(), ClusterError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for crd in hermes_crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let mut crd = serde_json::to_value(&crd).map_err(|e| ClusterError::Io {
            what: format!("serializing CRD {name}"),
            source: e.into(),
        })?;
        let stripped = strip_empty_string_defaults(&mut crd, "");
        if !stripped.is_empty() {
            tracing::debug!(crd = %name, ?stripped, "dropped `default: \"\"` for Kubernetes 1.20");
        }
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

/// Removes `default: ""` from string schemas, returning where. Kubernetes 1.20 (the test
/// apiserver) rejects such CRDs ("Invalid value: \"null\": must be of type string"), a
/// bug later versions fixed; serde fills the same default on read, so nothing changes
/// for Hermes' own code.
fn strip_empty_string_defaults(value: &mut Value, path: &str) -> Vec<String> {
    let mut stripped = Vec::new();
    match value {
        Value::Object(map) => {
            let empty_string_default = map.get("type") == Some(&Value::from("string"))
                && map.get("default") == Some(&Value::from(""));
            if empty_string_default {
                map.remove("default");
                stripped.push(path.to_owned());
            }
            for (key, child) in map.iter_mut() {
                stripped.extend(strip_empty_string_defaults(child, &format!("{path}.{key}")));
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                stripped.extend(strip_empty_string_defaults(
                    child,
                    &format!("{path}[{index}]"),
                ));
            }
        }
        _ => {}
    }
    stripped
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_empty_string_defaults_of_string_schemas_are_stripped() {
        let mut schema = json!({ "properties": {
            "reason": { "type": "string", "default": "" },
            "mode": { "type": "string", "default": "string" },
            "paused": { "type": "boolean", "default": false },
        }});
        let stripped = strip_empty_string_defaults(&mut schema, "");
        assert_eq!(stripped, [".properties.reason"]);
        assert_eq!(schema["properties"]["reason"], json!({ "type": "string" }));
        assert_eq!(schema["properties"]["mode"]["default"], "string");
        assert_eq!(schema["properties"]["paused"]["default"], false);
    }
}

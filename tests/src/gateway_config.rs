//! The gateway config ConfigMap the operator writes for a namespace, read as a gateway
//! would. The waits assert: they panic with the last state seen.

use hermes_compiler::config::GatewayConfig;
use hermes_compiler::contract;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ListParams;

use crate::TIMEOUT;
use crate::namespace::TestNamespace;
use crate::wait::wait_for;

/// The config ConfigMap, once it exists.
pub async fn config_map(ns: &TestNamespace) -> ConfigMap {
    let api = ns.api::<ConfigMap>();
    wait_for(TIMEOUT, || async {
        api.get_opt(contract::DEFAULT_CONFIG_MAP)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no config ConfigMap yet".to_string())
    })
    .await
    .unwrap_or_else(|error| panic!("config ConfigMap not written: {error}"))
}

/// Wait until the config ConfigMap holds a config satisfying `check`; returns it.
pub async fn wait_config(
    ns: &TestNamespace,
    check: impl Fn(&GatewayConfig) -> Result<(), String>,
) -> GatewayConfig {
    let api = ns.api::<ConfigMap>();
    wait_for(TIMEOUT, || async {
        let cm = api
            .get_opt(contract::DEFAULT_CONFIG_MAP)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no config ConfigMap yet")?;
        let shards = match contract::shard_names(&cm) {
            Some(_) => {
                let selector = ListParams::default().labels(contract::CONFIG_SHARD_LABEL_SELECTOR);
                api.list(&selector).await.map_err(|e| e.to_string())?.items
            }
            None => Vec::new(),
        };
        let shard = |name: &str| {
            shards
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(name))
        };
        let config = contract::decode_with_shards(&cm, shard).map_err(|e| e.to_string())?;
        check(&config)?;
        Ok::<_, String>(config)
    })
    .await
    .unwrap_or_else(|error| panic!("config not reached: {error}"))
}

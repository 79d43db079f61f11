//! A deadline on the operator's Kubernetes API requests, watches excepted.
//!
//! The kube client waits up to its read timeout (295 s) for an answer. A request lost on a
//! connection that died without a reset waits all of it: a hung config write or status
//! patch holds its namespace's reconciles for five minutes, a hung Lease renewal lets the
//! Lease lapse. Bounded, the request fails as a transport error, which the caller already
//! treats as transient (a reconcile is retried with backoff), and the retry goes out on a
//! fresh connection.
//!
//! Watches are exempt: they are long-lived streams that the server ends itself
//! (kube-runtime asks for `timeoutSeconds=290`), and cutting them short would only make
//! every watcher reconnect, and relist, every few seconds. A watcher's lists are bounded
//! like any other request; a failed one is retried with the watcher's backoff.

use std::time::Duration;

use http::{Request, Uri};
use kube::Client;
use kube::client::Body;
use tower::ServiceExt as _;
use tower::util::Either;

/// The default bound (`--api-request-timeout-seconds`): far above what a healthy API
/// server takes to answer, and far below the client's 295 s.
pub const DEFAULT: Duration = Duration::from_secs(10);

/// `client` with every request that is not a watch given up after `timeout`, with a
/// [`kube::Error::Service`] (`tower::timeout::error::Elapsed`). The bound runs until the
/// response's head arrives; reading its body stays under the client's own timeouts.
pub fn bounded(client: Client, timeout: Duration) -> Client {
    let namespace = client.default_namespace().to_string();
    let send = tower::service_fn(move |request: Request<Body>| {
        let client = client.clone();
        async move { client.send(request).await.map_err(tower::BoxError::from) }
    });
    let bounded = tower::ServiceBuilder::new()
        .timeout(timeout)
        .service(send.clone());
    let route = tower::service_fn(move |request: Request<Body>| {
        let service = if is_watch(request.uri()) {
            Either::Right(send.clone())
        } else {
            Either::Left(bounded.clone())
        };
        service.oneshot(request)
    });
    Client::new(route, namespace)
}

/// Whether `uri` asks for a watch (`watch=true` in its query, as kube sends it).
fn is_watch(uri: &Uri) -> bool {
    uri.query()
        .is_some_and(|query| query.split('&').any(|pair| pair == "watch=true"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::Api;
    use kube::api::{ListParams, Patch, PatchParams, WatchParams};

    /// A client whose every request goes unanswered.
    fn unanswered() -> Client {
        let service = tower::service_fn(|_: Request<Body>| async {
            std::future::pending::<Result<http::Response<Body>, tower::BoxError>>().await
        });
        Client::new(service, "default")
    }

    #[test]
    fn only_watch_requests_are_watches() {
        let watch: Uri = "/api/v1/namespaces/ns/configmaps?&watch=true&timeoutSeconds=290"
            .parse()
            .unwrap();
        assert!(is_watch(&watch));
        for other in [
            "/api/v1/namespaces/ns/configmaps?&limit=500",
            "/api/v1/namespaces/ns/configmaps/watch=true",
            "/api/v1/namespaces/ns/configmaps/a?fieldManager=x&watch=false",
            "/api/v1/namespaces/ns/configmaps?labelSelector=watch%3Dtrue",
        ] {
            let uri: Uri = other.parse().unwrap();
            assert!(!is_watch(&uri), "{other}");
        }
    }

    #[tokio::test]
    async fn writes_and_lists_give_up_after_the_timeout_but_watches_wait() {
        let api: Api<ConfigMap> =
            Api::namespaced(bounded(unanswered(), Duration::from_millis(50)), "default");
        let (params, config) = (
            PatchParams::apply("test"),
            Patch::Apply(ConfigMap::default()),
        );
        let patch = api.patch("config", &params, &config);
        let patched = tokio::time::timeout(Duration::from_secs(10), patch).await;
        assert!(
            matches!(patched, Ok(Err(kube::Error::Service(_)))),
            "{patched:?}"
        );
        let list = ListParams::default();
        let listed = tokio::time::timeout(Duration::from_secs(10), api.list(&list)).await;
        assert!(
            matches!(listed, Ok(Err(kube::Error::Service(_)))),
            "{listed:?}"
        );
        let watch_params = WatchParams::default();
        let watch = api.watch(&watch_params, "0");
        let watched = tokio::time::timeout(Duration::from_millis(500), watch).await;
        assert!(watched.is_err(), "the watch request was cut short");
    }
}

//! A client that loses one chosen request: once armed, the next request it picks never
//! gets an answer, as on a connection that died without a reset (the kube client would
//! wait for its 295 s read timeout). Tests hand its client to the operator and check that
//! the operator gives up on the request and carries on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use http::Request;
use kube::Client;
use kube::client::Body;

use crate::TIMEOUT;
use crate::wait::wait_for;

/// Wraps a client; [`HungRequest::client`] hangs the next request `picks` chooses after
/// [`HungRequest::arm`] (one per arming); every other request goes through.
pub struct HungRequest {
    client: Client,
    armed: Arc<AtomicBool>,
    armings: AtomicUsize,
    hung: Arc<AtomicUsize>,
}

impl HungRequest {
    /// `client`, losing the next request `picks` chooses once armed (not yet).
    pub fn new(
        client: Client,
        picks: impl Fn(&Request<Body>) -> bool + Send + Sync + 'static,
    ) -> Self {
        let namespace = client.default_namespace().to_string();
        let (armed, hung) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let service = tower::service_fn({
            let (armed, hung) = (armed.clone(), hung.clone());
            move |request: Request<Body>| {
                let client = client.clone();
                let hang = picks(&request) && armed.swap(false, Ordering::SeqCst);
                if hang {
                    hung.fetch_add(1, Ordering::SeqCst);
                }
                async move {
                    if hang {
                        std::future::pending::<()>().await;
                    }
                    client.send(request).await
                }
            }
        });
        HungRequest {
            client: Client::new(service, namespace),
            armed,
            armings: AtomicUsize::new(0),
            hung,
        }
    }

    /// The wrapped client.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Hang the next request picked.
    pub fn arm(&self) {
        self.armings.fetch_add(1, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Wait until the request picked after the last arming has hung; panics after
    /// [`TIMEOUT`].
    pub async fn wait_hung(&self) {
        let armings = self.armings.load(Ordering::SeqCst);
        wait_for(TIMEOUT, || async {
            let hung = self.hung.load(Ordering::SeqCst);
            (hung >= armings)
                .then_some(())
                .ok_or_else(|| format!("{hung} of {armings} requests hung so far"))
        })
        .await
        .unwrap_or_else(|error| panic!("no request hung: {error}"));
    }
}

/// A write (not a GET) to a path containing `/{plural}/`, e.g. `leases`, `configmaps`.
pub fn write_to(request: &Request<Body>, plural: &str) -> bool {
    request.method() != http::Method::GET && request.uri().path().contains(&format!("/{plural}/"))
}

/// A status write: a PATCH or PUT of an object's `/status` subresource.
pub fn status_write(request: &Request<Body>) -> bool {
    request.method() != http::Method::GET && request.uri().path().ends_with("/status")
}

//! `--timeline`: every request of a run, in the order sent, with when it was sent and how
//! long it took. A p99 says how many requests were slow, not whether they came together
//! (one stall of the server or its host, then the queue it made) or spread over the run
//! (a cost on every request); the timeline tells which, and lines up with a profile.

use std::io::{self, Write};

use crate::connection::{Outcome, Request};

/// Writes `outcome` as tab-separated lines sorted by send time: milliseconds from the
/// schedule's start, the server's latency and the latency as read (µs), the hit's path.
/// A comment line first gives the start on CLOCK_MONOTONIC (`start_monotonic`, seconds),
/// the clock `perf record -k CLOCK_MONOTONIC` stamps its samples with.
pub fn write(
    mut out: impl Write,
    outcome: &Outcome,
    requests: &[Request],
    start_monotonic: f64,
) -> io::Result<()> {
    let mut order: Vec<usize> = (0..outcome.sent_at_us.len()).collect();
    order.sort_by_key(|&i| outcome.sent_at_us[i]);
    writeln!(out, "# start: {start_monotonic:.6} s on CLOCK_MONOTONIC")?;
    writeln!(out, "sent_ms\tserver_us\tas_read_us\tpath")?;
    for i in order {
        let path = requests
            .get(outcome.hits[i])
            .map_or("?", |request| request.path.as_str());
        writeln!(
            out,
            "{:.3}\t{}\t{}\t{path}",
            f64::from(outcome.sent_at_us[i]) / 1000.0,
            outcome.server_latencies_us[i],
            outcome.latencies_us[i],
        )?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> Request {
        Request {
            path: path.to_owned(),
            bytes: Vec::new(),
        }
    }

    #[test]
    fn lines_come_in_the_order_sent_with_each_requests_latencies_and_path() {
        // Two connections' outcomes joined: the second connection's request went first.
        let outcome = Outcome {
            latencies_us: vec![40, 2500, 35],
            server_latencies_us: vec![30, 2400, 25],
            sent_at_us: vec![1000, 1500, 250],
            hits: vec![0, 1, 1],
            ..Outcome::default()
        };
        let requests = [request("/g/collect?en=page_view"), request("/mp/collect")];
        let mut out = Vec::new();
        write(&mut out, &outcome, &requests, 12.5).expect("writes to memory");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "# start: 12.500000 s on CLOCK_MONOTONIC\n\
             sent_ms\tserver_us\tas_read_us\tpath\n\
             0.250\t25\t35\t/mp/collect\n\
             1.000\t30\t40\t/g/collect?en=page_view\n\
             1.500\t2400\t2500\t/mp/collect\n"
        );
    }
}

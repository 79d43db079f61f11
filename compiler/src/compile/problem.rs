//! A problem found in one object, before it is tied to the object as a `Diagnostic`.

/// One problem: where in the object, why (a [`super::reason`] constant) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Field path inside the object, e.g. `spec.conditions[0].value`.
    pub field: String,
    /// A [`super::reason`] constant.
    pub reason: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

/// Where compilers of one object collect their problems; the object is valid when it
/// stays empty.
pub(crate) type Problems = Vec<Problem>;

/// Record a problem.
pub(crate) fn report(
    out: &mut Problems,
    field: impl Into<String>,
    reason: &'static str,
    message: impl Into<String>,
) {
    out.push(Problem {
        field: field.into(),
        reason,
        message: message.into(),
    });
}

"""values.schema.json: a typo or a wrong type fails the render (so `helm install`) with
the schema's message, naming the key."""

import helm_python as helm
import pytest

from hermes_chart import load, render


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"gateway": {"replica": 3}}, "at '/gateway': additional properties 'replica' not allowed"),
        ({"operatr": {}}, "additional properties 'operatr' not allowed"),
        ({"gateway": {"ingress": {"hosts": ["a"]}}}, "at '/gateway/ingress': additional properties 'hosts' not allowed"),
        ({"pubsub": {"credentialSecret": {"name": "k"}}}, "additional properties 'credentialSecret' not allowed"),
    ],
)
def test_a_typo_fails_with_the_schemas_message(values, message):
    with pytest.raises(helm.HelmValuesError) as error:
        render(values)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"gateway": {"replicas": "3"}}, "at '/gateway/replicas': got string, want integer"),
        ({"operator": {"allNamespaces": "true"}}, "at '/operator/allNamespaces': got string, want boolean"),
        ({"operator": {"leaderElection": {"enabled": "yes"}}}, "at '/operator/leaderElection/enabled': got string, want boolean"),
        ({"gateway": {"trustedProxies": "10.0.0.0/8"}}, "at '/gateway/trustedProxies': got string, want array"),
        ({"gateway": {"logFormat": "xml"}}, "at '/gateway/logFormat'"),
        ({"operator": {"publicationTopic": "low-stock"}}, "at '/operator/publicationTopic'"),
        ({"gateway": {"image": {"digest": "latest"}}}, "at '/gateway/image/digest'"),
        ({"gateway": {"buffer": {"persistence": {"enabled": True, "size": "lots"}}}}, "at '/gateway/buffer/persistence/size'"),
        ({"gateway": {"buffer": {"persistence": {"enabled": True, "accessModes": ["ReadOnlyMany"]}}}}, "at '/gateway/buffer/persistence/accessModes/0'"),
        ({"gateway": {"deadLetterTopic": "projects/acme"}}, "at '/gateway/deadLetterTopic'"),
        ({"gateway": {"shutdown": {"delaySeconds": -1}}}, "at '/gateway/shutdown/delaySeconds'"),
        ({"operator": {"apiRequestTimeoutSeconds": 0}}, "at '/operator/apiRequestTimeoutSeconds'"),
    ],
)
def test_a_wrong_type_or_value_fails_with_the_schemas_message(values, message):
    with pytest.raises(helm.HelmValuesError) as error:
        render(values)
    assert message in str(error.value)


def test_the_defaults_satisfy_the_schema():
    load().validate_schema(None)

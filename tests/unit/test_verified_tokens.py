"""The map of verified token claims: valid only between nbf and exp, copies out, bounded, per key."""
from shared.verified_tokens import VerifiedTokens

CLAIMS = {"sub": "7", "nbf": 100.0, "exp": 200.0, "sid": "s"}


def test_claims_come_back_only_between_not_before_and_expiry():
    tokens = VerifiedTokens()
    assert tokens.get("t", "key", 150.0) is None
    tokens.put("t", "key", CLAIMS)
    assert tokens.get("t", "key", 150.0) == CLAIMS
    assert tokens.get("t", "key", 99.0) is None  # not valid yet: dropped, as PyJWT would refuse it
    tokens.put("t", "key", CLAIMS)
    assert tokens.get("t", "key", 200.0) is None  # expired at exp exactly
    assert tokens.get("t", "key", 150.0) is None  # and forgotten: the full check runs again


def test_another_key_or_another_string_is_not_the_same_token():
    tokens = VerifiedTokens()
    tokens.put("t", "key", CLAIMS)
    assert tokens.get("t", "another key", 150.0) is None
    assert tokens.get("t ", "key", 150.0) is None


def test_a_caller_changing_its_claims_does_not_change_the_kept_ones():
    tokens = VerifiedTokens()
    given = dict(CLAIMS)
    tokens.put("t", "key", given)
    given["sub"] = "8"
    tokens.get("t", "key", 150.0)["sub"] = "9"
    assert tokens.get("t", "key", 150.0)["sub"] == "7"


def test_the_least_recently_used_token_goes_first_past_the_bound():
    tokens = VerifiedTokens(max_size=2)
    tokens.put("a", "key", CLAIMS)
    tokens.put("b", "key", CLAIMS)
    tokens.get("a", "key", 150.0)  # a used last: b is the oldest
    tokens.put("c", "key", CLAIMS)
    assert [token for token in "abc" if tokens.get(token, "key", 150.0)] == ["a", "c"]

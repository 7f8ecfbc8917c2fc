"""The example domain: items."""

import uuid

from fastapi.testclient import TestClient


class TestItems:
    def test_create_item(self, client: TestClient) -> None:
        """A created item comes back with an id and can then be read."""
        created = client.post("/v1/items", json={"name": "  Lamp ", "description": "Blue"})

        assert 201 == created.status_code
        item = created.json()
        assert "Lamp" == item["name"]
        assert item == client.get(f"/v1/items/{item['id']}").json()

    def test_read_items_pages_in_creation_order(self, client: TestClient) -> None:
        """Listing pages through items oldest first and counts them all."""
        for name in ("a", "b", "c"):
            client.post("/v1/items", json={"name": name})

        page = client.get("/v1/items", params={"offset": 1, "limit": 1}).json()

        assert 3 == page["count"]
        assert ["b"] == [item["name"] for item in page["data"]]

    def test_read_item_not_found(self, client: TestClient) -> None:
        """An unknown id is a 404 problem."""
        response = client.get(f"/v1/items/{uuid.uuid4()}")

        assert 404 == response.status_code
        assert "application/problem+json" == response.headers["content-type"]

    def test_create_item_duplicate_name(self, client: TestClient) -> None:
        """A name already taken, in any case, is a 409 problem, and nothing is stored."""
        client.post("/v1/items", json={"name": "Lamp"})

        response = client.post("/v1/items", json={"name": "LAMP", "description": "Red"})

        assert 409 == response.status_code
        assert "application/problem+json" == response.headers["content-type"]
        assert 'An item named "LAMP" already exists.' == response.json()["detail"]
        assert ["Lamp"] == [item["name"] for item in client.get("/v1/items").json()["data"]]

    def test_create_item_without_name(self, client: TestClient) -> None:
        """A blank name is refused, pointing at the field."""
        response = client.post("/v1/items", json={"name": "   "})

        assert 422 == response.status_code
        assert ["body", "name"] == response.json()["errors"][0]["loc"]

    def test_create_item_unknown_field(self, client: TestClient) -> None:
        """A field the model does not have (a typo, say) is a 422 problem naming it, not ignored."""
        response = client.post("/v1/items", json={"name": "Lamp", "colour": "blue"})

        assert 422 == response.status_code
        error = response.json()["errors"][0]
        assert (["body", "colour"], "extra_forbidden") == (error["loc"], error["type"])

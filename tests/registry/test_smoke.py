from tests.factories import InfusionFactory


def test_it_saves_an_infusion(db):
    infusion = InfusionFactory()
    assert infusion.mg_per_kg == 5

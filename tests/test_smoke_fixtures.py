"""The fixtures work: a seed tick on 30 March 2020 reaches the recording SMTP server."""

from tests.conftest import SEED_ID, load_seed, oslo, tick_and_send


def test_first_tick_invites_every_secretariat_once(engine, settings, smtp):
    load_seed(engine)
    planned, sent = tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 5))
    # nine secretariats, two request steps each: one mail each, carrying both invitations
    assert len(planned.queued) == 18
    assert sent.sent == 9 and sent.failed == 0
    recipients = sorted(r.rcpt_tos[0] for r in smtp.received)
    assert len(set(recipients)) == 9 == len(recipients)
    assert all(r.rcpt_tos[0].startswith("sekretariat@") for r in smtp.received)
    assert all(SEED_ID not in r.subject and "20/64758" in r.subject for r in smtp.received)
    planned, sent = tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 6))
    assert planned.queued == [] and sent.attempted == 0
    assert len(smtp.received) == 9

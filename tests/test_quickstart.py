"""The path a new user walks first: open, contact, promise, pay, and see it kept."""

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from tests.support import history, later, open_case, ts


def test_payment_covering_promise_keeps_it_and_history_is_in_order(stub, clock):
    case = open_case(stub, amount=100_000)
    stub.LogContact(
        svc.LogContactRequest(
            case_id=case.case_id,
            channel=pb.PHONE,
            direction=pb.OUTBOUND,
            outcome=pb.RIGHT_PARTY_VERIFIED,
            agent_id="xiao.ming",
        )
    )
    promised = stub.RecordPromise(
        svc.RecordPromiseRequest(
            case_id=case.case_id,
            amount_minor=100_000,
            due_time=ts(later(days=3)),
            payment_channel=pb.ALIPAY,
        )
    )
    paid = stub.RecordPayment(
        svc.RecordPaymentRequest(
            case_id=case.case_id, amount_minor=100_000, payment_reference="PAY-0001"
        )
    )
    (promise,) = paid.case.promises
    assert promise.promise_id == promised.promise_id
    assert promise.status == pb.Promise.KEPT
    assert paid.case.balance_minor == 0
    events = history(stub, case.case_id)
    assert [e.type for e in events] == [
        "CaseOpened",
        "ContactLogged",
        "PromiseRecorded",
        "PaymentRecorded",
        "PromiseKept",
    ]
    assert [e.version for e in events] == [1, 2, 3, 4, 5]
    assert all(e.recorded_at.ToDatetime() <= clock.now().replace(tzinfo=None) for e in events)

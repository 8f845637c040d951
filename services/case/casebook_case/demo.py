import os
import uuid
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from casebook.v1 import case_pb2 as pb
from casebook.v1 import case_service_pb2 as svc
from casebook.v1 import case_service_pb2_grpc as rpc

channel = grpc.insecure_channel(os.environ.get("CASEBOOK_CASE_ADDRESS", "127.0.0.1:50051"))
cases = rpc.CaseServiceStub(channel)
run = uuid.uuid4().hex[:8]  # fresh ids each run; a retry reuses them and writes nothing

case = cases.OpenCase(
    svc.OpenCaseRequest(
        request_id=f"open-{run}",  # a retry with the same id returns the same case
        account_id=f"ACC-{run}",
        debtor=pb.Debtor(name="Li Lei", phone="+8613800138000", time_zone="Asia/Shanghai"),
        overdue_amount_minor=100_000,
        currency="CNY",
        days_past_due=31,  # 1,000.00 yuan
    )
)
cases.LogContact(  # Mr. Li calls back; outbound calls are refused at night and on rest days
    svc.LogContactRequest(
        case_id=case.case_id,
        channel=pb.PHONE,
        direction=pb.INBOUND,
        outcome=pb.RIGHT_PARTY_VERIFIED,
        agent_id="xiao.ming",
    )
)
due = Timestamp()
due.FromDatetime(datetime.now(UTC) + timedelta(days=7))
promised = cases.RecordPromise(
    svc.RecordPromiseRequest(
        case_id=case.case_id,
        amount_minor=100_000,
        due_time=due,
        payment_channel=pb.ALIPAY,
    )
)
paid = cases.RecordPayment(
    svc.RecordPaymentRequest(
        case_id=case.case_id,
        amount_minor=100_000,
        payment_reference=f"ALIPAY-{run}",
    )
)
print("promise", promised.promise_id, pb.Promise.Status.Name(paid.case.promises[0].status))
for event in cases.GetCaseHistory(svc.GetCaseHistoryRequest(case_id=case.case_id)):
    print(event.version, event.type, event.recorded_at.ToJsonString())

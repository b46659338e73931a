from services.payment.adapters.tables import Base
from zsb.common.migrations import run_env

run_env(Base.metadata)

from services.results.adapters import Base
from zsb.common.migrations import run_env

run_env(Base.metadata)

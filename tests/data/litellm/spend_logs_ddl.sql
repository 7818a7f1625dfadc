-- "LiteLLM_SpendLogs" as LiteLLM 1.108.7 / litellm-proxy-extras 0.4.110 leaves it after `prisma migrate deploy`
-- (the baseline CREATE TABLE of 20250326162113_baseline plus every later ALTER on this table, collapsed into one
-- statement; column order = physical order after the migrations). Prisma DateTime -> TIMESTAMP(3) WITHOUT TIME
-- ZONE holding UTC; Json -> JSONB; Float -> DOUBLE PRECISION. Verified equal (information_schema + indexes) to
-- replaying the 13 migrations of litellm_proxy_extras that touch the table, in a real PostgreSQL 15.
CREATE TABLE IF NOT EXISTS "LiteLLM_SpendLogs" (
    "request_id" TEXT NOT NULL,
    "call_type" TEXT NOT NULL,
    "api_key" TEXT NOT NULL DEFAULT '',
    "spend" DOUBLE PRECISION NOT NULL DEFAULT 0.0,
    "total_tokens" INTEGER NOT NULL DEFAULT 0,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0,
    "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "startTime" TIMESTAMP(3) NOT NULL,
    "endTime" TIMESTAMP(3) NOT NULL,
    "completionStartTime" TIMESTAMP(3),
    "model" TEXT NOT NULL DEFAULT '',
    "model_id" TEXT DEFAULT '',
    "model_group" TEXT DEFAULT '',
    "custom_llm_provider" TEXT DEFAULT '',
    "api_base" TEXT DEFAULT '',
    "user" TEXT DEFAULT '',
    "metadata" JSONB DEFAULT '{}',
    "cache_hit" TEXT DEFAULT '',
    "cache_key" TEXT DEFAULT '',
    "request_tags" JSONB DEFAULT '[]',
    "team_id" TEXT,
    "end_user" TEXT,
    "requester_ip_address" TEXT,
    "messages" JSONB DEFAULT '{}',
    "response" JSONB DEFAULT '{}',
    "proxy_server_request" JSONB DEFAULT '{}',      -- 20250425182129_add_session_id
    "session_id" TEXT,                              -- 20250425182129_add_session_id
    "status" TEXT,                                  -- 20250508072103_add_status_to_spendlogs
    "mcp_namespaced_tool_name" TEXT,                -- 20250707230009_add_mcp_namespaced_tool_name
    "organization_id" TEXT,                         -- 20251122125322_Add organization_id to spend logs
    "agent_id" TEXT,                                -- 20251210205007_add_daily_agent_spend_table
    "request_duration_ms" INTEGER,                  -- 20260224201417_spend_logs_request_duration
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,  -- 20260818000000_add_spend_log_timestamps
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,  -- 20260818000000_add_spend_log_timestamps
    "litellm_call_id" TEXT,                         -- 20260831120000_add_litellm_call_id_spend_logs
    "billing_agent_id" TEXT,                        -- 20260921190000_agent_identity
    CONSTRAINT "LiteLLM_SpendLogs_pkey" PRIMARY KEY ("request_id")
);
CREATE INDEX IF NOT EXISTS "LiteLLM_SpendLogs_startTime_idx" ON "LiteLLM_SpendLogs"("startTime");
CREATE INDEX IF NOT EXISTS "LiteLLM_SpendLogs_end_user_idx" ON "LiteLLM_SpendLogs"("end_user");
CREATE INDEX IF NOT EXISTS "LiteLLM_SpendLogs_session_id_idx" ON "LiteLLM_SpendLogs"("session_id");
CREATE INDEX IF NOT EXISTS "LiteLLM_SpendLogs_startTime_request_id_idx" ON "LiteLLM_SpendLogs"("startTime", "request_id");
-- built after migrate deploy by litellm_proxy_extras/request_log_indexes.py (CONCURRENTLY on a plain table):
CREATE INDEX IF NOT EXISTS "LiteLLM_SpendLogs_api_key_startTime_idx" ON "LiteLLM_SpendLogs"("api_key", "startTime");
CREATE INDEX IF NOT EXISTS "LiteLLM_SpendLogs_litellm_call_id_idx" ON "LiteLLM_SpendLogs"("litellm_call_id");

-- When each token was last used (epoch ms), recorded in batches at most
-- once per flush interval per replica; NULL until its first use.
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;

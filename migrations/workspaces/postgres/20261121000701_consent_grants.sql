-- Experts who joined by a customer's consent. One row per consent request the workspaces
-- service has heard of: `active` while the consent holds, `ended` once it was withdrawn or
-- ended. The ended row stays so that a late or repeated acceptance of the same request can
-- never let the expert back in. The expert is a member (role `expert`) while at least one of
-- their grants in the workspace is active.
CREATE TABLE consent_grants (
    request_id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    expert_id UUID NOT NULL,
    -- The organisation the expert works for here (may differ from the workspace's).
    expert_organization_id UUID NOT NULL,
    -- Whose consent: in a group workspace the expert sees this customer's thread only.
    customer_id UUID NOT NULL,
    -- "From now on only": content whose UUIDv7 id sorts before visible_from_id, and a summary
    -- written before visible_from, stay hidden from the expert.
    visible_from_id UUID,
    visible_from TIMESTAMPTZ,
    state TEXT NOT NULL CHECK (state IN ('active', 'ended')),
    changed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX consent_grants_expert ON consent_grants (workspace_id, expert_id, state);

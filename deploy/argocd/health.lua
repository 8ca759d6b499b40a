-- Argo CD health check for acraccess.io AcrAccess and ClusterAcrAccess (the same file serves both kinds).
-- It follows the kstatus conventions the operator writes: status.observedGeneration, then the Stalled,
-- Reconciling and Ready conditions. Argo CD runs custom checks without Lua's standard libraries (no string.*),
-- so only the base library is used. Install: see the README ("Argo CD").
local hs = { status = "Progressing", message = "Waiting for the operator to reconcile" }

local function describe(c)
  if c.reason ~= nil and c.message ~= nil then return c.reason .. ": " .. c.message end
  return c.message or c.reason or c.type
end

if obj.status == nil or obj.status.conditions == nil then return hs end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  hs.message = "Waiting for the operator to observe generation " .. obj.metadata.generation
  return hs
end

local conditions = {}
for _, c in ipairs(obj.status.conditions) do conditions[c.type] = c end

-- Stalled: the operator refuses the resource (e.g. a registry outside --allowed-registries) until it changes.
if conditions.Stalled ~= nil and conditions.Stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(conditions.Stalled)
  return hs
end
if conditions.Reconciling ~= nil and conditions.Reconciling.status == "True" then
  hs.message = describe(conditions.Reconciling)
  return hs
end
if conditions.Ready ~= nil and conditions.Ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(conditions.Ready)
  -- Degraded=True with Ready=True: policies stay in force on the last good data (e.g. a refused feed).
  if conditions.Degraded ~= nil and conditions.Degraded.status == "True" then
    hs.message = "Ready, but Degraded: " .. describe(conditions.Degraded)
  end
  return hs
end
if conditions.Ready ~= nil then hs.message = describe(conditions.Ready) end
return hs

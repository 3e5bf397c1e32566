select avg(case when vr.success then 1.0 else 0.0 end)::numeric(5, 4) as pass_rate
from ops.validation_results as vr
where vr.suite like 'raw.%'

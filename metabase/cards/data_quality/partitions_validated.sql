-- every raw partition the gate has judged (a re-validated batch counts once)
select count(*) as partitions_validated
from ops.validation_results as vr
where vr.suite like 'raw.%'

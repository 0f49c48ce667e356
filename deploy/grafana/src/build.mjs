// promowatch's Grafana dashboards, from one source, with Grafana's own typed
// builders (@grafana/grafana-foundation-sdk). Writes ../dashboards/*.json;
// `node build.mjs --check` fails if the committed JSON differs from what
// this source builds (so nobody hand-edits one copy), and `--exprs` prints
// every PromQL expression (tests/stack_test.sh runs each against a real
// Prometheus).
//
// Both dashboards share the datasource, campaign and channel variables and
// the panel helpers below; uids are stable so that alerts can link to them
// (deploy/prometheus/rules/alerts.yml links PromowatchChannelCtrLow to the
// war room's panel 3, "CTR by channel").
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DashboardBuilder, DashboardLinkBuilder, DatasourceVariableBuilder, QueryVariableBuilder,
  CustomVariableBuilder, RowBuilder, VariableRefresh, VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'dashboards');
const DS = { type: 'prometheus', uid: '${datasource}' };
const SCOPE = 'campaign=~"$campaign", channel=~"$channel"';

const query = (expr, legend, refId = 'A') =>
  new DataqueryBuilder().datasource(DS).expr(expr).legendFormat(legend ?? '__auto').refId(refId);

const grid = (x, y, w, h) => ({ x, y, w, h });

function series(id, title, unit, pos, targets, description) {
  const p = new timeseries.PanelBuilder().id(id).title(title).unit(unit).datasource(DS).gridPos(pos);
  if (description) p.description(description);
  targets.forEach(([expr, legend], i) => p.withTarget(query(expr, legend, String.fromCharCode(65 + i))));
  return p;
}

function single(id, title, unit, pos, expr, description) {
  return new stat.PanelBuilder().id(id).title(title).unit(unit).datasource(DS).gridPos(pos)
    .description(description).withTarget(query(expr));
}

function variables(builder, { channel = true } = {}) {
  builder.withVariable(new DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus'));
  builder.withVariable(new QueryVariableBuilder('campaign').label('Campaign').datasource(DS)
    .query('label_values(promowatch_campaign_impressions_total, campaign)')
    .refresh(VariableRefresh.OnTimeRangeChanged).sort(VariableSort.AlphabeticalAsc)
    .multi(true).includeAll(true).allValue('.*'));
  if (channel) {
    builder.withVariable(new QueryVariableBuilder('channel').label('Channel').datasource(DS)
      .query('label_values(promowatch_campaign_impressions_total{campaign=~"$campaign"}, channel)')
      .refresh(VariableRefresh.OnTimeRangeChanged).sort(VariableSort.AlphabeticalAsc)
      .multi(true).includeAll(true).allValue('.*'));
  }
  return builder;
}

const links = (other) => [
  new DashboardLinkBuilder(other.title).type('dashboards').url(`/d/${other.uid}`).includeVars(true).keepTime(true),
];

const WAR_ROOM = { uid: 'promowatch-war-room', title: 'promowatch: war room' };
const PIPELINE = { uid: 'promowatch-pipeline', title: 'promowatch: pipeline health' };
const PLAN = { uid: 'promowatch-plan', title: 'promowatch: plan vs actual' };

function warRoom() {
  const b = new DashboardBuilder(WAR_ROOM.title).uid(WAR_ROOM.uid).tags(['promowatch', 'generated'])
    .refresh('30s').time({ from: 'now-3h', to: 'now' }).timezone('browser')
    .description('Live sale: GMV against target, GMV per minute, CTR/CVR by channel and campaign, new-customer share, top campaigns, firing alerts, the same by user segment. Built by deploy/grafana/src/build.mjs.');
  variables(b);
  b.withVariable(new CustomVariableBuilder('target').label('GMV target (yuan)').values('50000000'));
  links(PIPELINE).forEach((l) => b.link(l));
  b.withRow(new RowBuilder('Sale so far').id(100).gridPos(grid(0, 0, 24, 1)));
  b.withPanel(single(1, 'GMV so far', 'currencyCNY', grid(0, 1, 6, 5),
    'sum(campaign:promowatch_gmv:total{campaign=~"$campaign"})',
    'Paid GMV of final 1-minute windows since the instances started counting (all instances).'));
  b.withPanel(single(2, 'GMV against target', 'percentunit', grid(6, 1, 6, 5),
    'sum(campaign:promowatch_gmv:total{campaign=~"$campaign"}) / $target',
    'GMV so far as a share of the target variable (set it to the planning sheet figure).'));
  b.withPanel(series(3, 'CTR by channel', 'percentunit', grid(12, 1, 12, 8),
    [[`campaign_channel:promowatch_ctr:ratio_rate5m{${SCOPE}}`, '{{campaign}} {{channel}}']],
    'Clicks / impressions over 5 minutes, every instance summed. PromowatchChannelCtrLow links here.'));
  b.withPanel(series(4, 'GMV per minute by campaign', 'currencyCNY', grid(0, 6, 12, 8),
    [['campaign:promowatch_gmv:per_minute{campaign=~"$campaign"}', '{{campaign}}']]));
  b.withPanel(series(5, 'CVR by channel', 'percentunit', grid(12, 9, 12, 8),
    [[`campaign_channel:promowatch_cvr:ratio_rate5m{${SCOPE}}`, '{{campaign}} {{channel}}']],
    'Paid orders / clicks over 5 minutes.'));
  b.withPanel(series(6, 'CTR and CVR by campaign', 'percentunit', grid(0, 14, 12, 8),
    [['campaign:promowatch_ctr:ratio_rate5m{campaign=~"$campaign"}', 'CTR {{campaign}}'],
     ['campaign:promowatch_cvr:ratio_rate5m{campaign=~"$campaign"}', 'CVR {{campaign}}']]));
  b.withPanel(series(9, 'New-customer share by campaign', 'percentunit', grid(12, 17, 12, 5),
    [['campaign:promowatch_new_customer_share:ratio_rate5m{campaign=~"$campaign"}', '{{campaign}}']],
    "Paid orders from users' first paid order / paid orders (needs profiles.enabled)."));
  b.withRow(new RowBuilder('Who and what').id(101).gridPos(grid(0, 22, 24, 1)));
  b.withPanel(new table.PanelBuilder().id(7).title('Top campaigns by GMV').datasource(DS)
    .gridPos(grid(0, 23, 12, 8)).unit('currencyCNY')
    .withTarget(query('topk(10, campaign:promowatch_gmv:total)', '{{campaign}}').instant(true).format('table')));
  b.withPanel(new table.PanelBuilder().id(8).title('Firing alerts').datasource(DS)
    .gridPos(grid(12, 23, 12, 8))
    .description('promowatch rules firing now (promowatch_alerts_firing), and Prometheus alerts on the pipeline (ALERTS).')
    .withTarget(query('sum by (rule, severity) (promowatch_alerts_firing) > 0', '{{rule}}').instant(true).format('table'))
    .withTarget(query('ALERTS{alertstate="firing"}', '{{alertname}}', 'B').instant(true).format('table')));
  // segments.enabled: the campaigns' windows by the segment each event's
  // user was in just before it (new, active, dormant, high_value, other).
  const SEG = 'campaign=~"$campaign", channel="*"';
  b.withRow(new RowBuilder('By user segment').id(102).gridPos(grid(0, 31, 24, 1)));
  b.withPanel(series(10, 'CVR by segment', 'percentunit', grid(0, 32, 12, 8),
    [[`promowatch_segment_window_cvr_ratio{${SEG}, window="5m"}`, '{{campaign}} {{segment}}']],
    'Paid orders / clicks of the latest final 5m window, per campaign and segment of the user just before each event (needs segments.enabled). A win-back offer that stops converting shows here while the campaign as a whole looks fine.'));
  b.withPanel(series(11, 'GMV today by segment', 'currencyCNY', grid(12, 32, 12, 8),
    [[`sum by (segment) (promowatch_segment_window_gmv{${SEG}, window="cumulative"})`, '{{segment}}']],
    'GMV since local midnight of the selected campaigns, by the segment the buyer was in when paying.'));
  b.withPanel(series(12, 'Paid orders by segment (5m)', 'short', grid(0, 40, 12, 8),
    [[`sum by (segment) (promowatch_segment_window_paid_orders{${SEG}, window="5m"})`, '{{segment}}']],
    'Who is buying: paid orders of the latest final 5m window by segment (dormant: win-back orders).'));
  b.withPanel(series(13, 'Visitors by segment (5m)', 'short', grid(12, 40, 12, 8),
    [[`sum by (segment) (promowatch_segment_window_uv{${SEG}, window="5m"})`, '{{segment}}']],
    'Distinct users of the latest final 5m window by segment.'));
  return b;
}

function pipeline() {
  const b = new DashboardBuilder(PIPELINE.title).uid(PIPELINE.uid).tags(['promowatch', 'generated'])
    .refresh('30s').time({ from: 'now-1h', to: 'now' }).timezone('browser')
    .description('Is promowatch keeping up: events by outcome, lag, watermark, latency, checkpoints, RocksDB, alert delivery. Built by deploy/grafana/src/build.mjs.');
  variables(b, { channel: false });
  links(WAR_ROOM).forEach((l) => b.link(l));
  b.withRow(new RowBuilder('Throughput').id(100).gridPos(grid(0, 0, 24, 1)));
  b.withPanel(series(1, 'Events/s by outcome', 'ops', grid(0, 1, 12, 8),
    [['topic_outcome:promowatch_records:rate1m', '{{topic}} {{outcome}}']]));
  b.withPanel(series(2, 'Consumer lag by partition', 'short', grid(12, 1, 12, 8),
    [['promowatch_consumer_lag_records', '{{topic}}/{{partition}} {{instance}}']]));
  b.withPanel(series(3, 'Rejected and late share', 'percentunit', grid(0, 9, 12, 8),
    [['topic:promowatch_rejected:ratio_rate5m', 'rejected {{topic}}'],
     ['topic:promowatch_late:ratio_rate5m', 'late {{topic}}']]));
  b.withRow(new RowBuilder('Freshness').id(101).gridPos(grid(0, 17, 24, 1)));
  b.withPanel(series(4, 'Watermark delay', 's', grid(12, 9, 12, 8),
    [['promowatch_watermark_delay_seconds', '{{instance}}']],
    'Wall clock minus event-time watermark: how late windows close.'));
  b.withPanel(series(5, 'Result latency percentiles', 's', grid(0, 18, 12, 8),
    [['histogram_quantile(0.5, sum by (le) (rate(promowatch_result_latency_seconds_bucket[$__rate_interval])))', 'p50'],
     ['histogram_quantile(0.99, sum by (le) (rate(promowatch_result_latency_seconds_bucket[$__rate_interval])))', 'p99']],
    'Window end (event time) to emission (wall time).'));
  b.withPanel(series(6, 'Data complete (alert rules judged)', 'short', grid(12, 18, 12, 8),
    [['promowatch_data_complete', '{{instance}}']]));
  b.withRow(new RowBuilder('State').id(102).gridPos(grid(0, 26, 24, 1)));
  b.withPanel(series(7, 'Checkpoints', 's', grid(0, 27, 12, 8),
    [['histogram_quantile(0.99, sum by (le) (rate(promowatch_checkpoint_duration_seconds_bucket[$__rate_interval])))', 'p99 duration'],
     ['sum(rate(promowatch_checkpoint_failures_total[$__rate_interval]))', 'failures/s']]));
  b.withPanel(series(8, 'RocksDB state and checkpoint size', 'bytes', grid(12, 27, 12, 8),
    [['promowatch_state_size_bytes', 'state {{instance}}'],
     ['promowatch_checkpoint_size_bytes', 'last checkpoint {{instance}}']]));
  b.withPanel(series(10, 'User profiles: kept and held in memory', 'short', grid(12, 35, 12, 8),
    [['promowatch_user_profiles', 'kept {{instance}}'],
     ['promowatch_user_profiles_in_memory', 'in memory {{instance}}']],
    'profiles.enabled: profiles in all (RocksDB) and in the memory cache bounded by profiles.max_users_in_memory.'));
  b.withPanel(series(11, 'Freshness: arrival to /metrics, watermark to published (p99)', 's', grid(0, 43, 24, 8),
    [['histogram_quantile(0.99, sum by (le) (rate(promowatch_record_visible_seconds_bucket[$__rate_interval])))', 'record produced -> counted in /metrics'],
     ['histogram_quantile(0.99, sum by (le) (rate(promowatch_result_publish_seconds_bucket[$__rate_interval])))', 'watermark past window end -> result in Kafka']],
    'promowatch_record_visible_seconds and promowatch_result_publish_seconds (BENCHMARKS.md, section 4d).'));
  b.withPanel(series(9, 'Alert notifications', 'short', grid(0, 35, 12, 8),
    [['sum by (alertmanager) (rate(promowatch_notifications_sent_total[$__rate_interval])) or vector(0)', 'sent {{alertmanager}}'],
     ['sum by (alertmanager) (rate(promowatch_notifications_failed_total[$__rate_interval])) or vector(0)', 'failed {{alertmanager}}']]));
  return b;
}

// The campaign plan (plan.file, README "The plan"): each target against
// its KPI over the campaign's period, and where the period's pace takes it.
function plan() {
  const b = new DashboardBuilder(PLAN.title).uid(PLAN.uid).tags(['promowatch', 'generated'])
    .refresh('1m').time({ from: 'now-24h', to: 'now' }).timezone('browser')
    .description('The plan\'s targets against their KPIs over each campaign\'s period (promowatch_campaign_kpi, _target, _projected). Built by deploy/grafana/src/build.mjs.');
  variables(b, { channel: false });
  links(WAR_ROOM).forEach((l) => b.link(l));
  const C = 'campaign=~"$campaign"';
  b.withPanel(single(1, 'Plan alerts firing', 'short', grid(0, 0, 6, 6),
    'sum(promowatch_alerts_firing{rule=~"plan_.*"}) or vector(0)',
    'Alerts of the plan\'s target rules (plan_<kpi>, plan_<kpi>_by_channel) firing now.'));
  b.withPanel(series(2, 'Actual / target', 'percentunit', grid(6, 0, 18, 10),
    [[`promowatch_campaign_kpi{${C}} / promowatch_campaign_kpi_target{${C}}`, '{{campaign}} {{channel}} {{kpi}}']],
    'Each KPI over its period so far as a share of its target (100%: met; budget and cac are ceilings: under 100% is good).'));
  b.withPanel(series(3, 'Projected / target at the period\'s end', 'percentunit', grid(0, 10, 24, 9),
    [[`promowatch_campaign_kpi_projected{${C}} / promowatch_campaign_kpi_target{${C}}`, '{{campaign}} {{channel}} {{kpi}}']],
    'Totals (gmv, orders, new users, budget) at the rate since the period started; rates as they stand. Under 100% on a total: the plan will be missed at this pace.'));
  b.withPanel(series(4, 'GMV: actual, projected and target', 'currencyCNY', grid(0, 19, 12, 9),
    [[`promowatch_campaign_kpi{${C}, kpi="gmv", channel="*"}`, '{{campaign}} actual'],
     [`promowatch_campaign_kpi_projected{${C}, kpi="gmv", channel="*"}`, '{{campaign}} projected'],
     [`promowatch_campaign_kpi_target{${C}, kpi="gmv", channel="*"}`, '{{campaign}} target']]));
  b.withPanel(series(5, 'ROI by channel against its floor', 'short', grid(12, 19, 12, 9),
    [[`promowatch_campaign_kpi{${C}, kpi="roi", channel!="*"}`, '{{campaign}} {{channel}}'],
     [`promowatch_campaign_kpi_target{${C}, kpi="roi", channel!="*"}`, '{{campaign}} {{channel}} floor']],
    'GMV / spend over the period per channel: a platform under its floor for long is one to pause.'));
  return b;
}

const dashboards = { 'war-room.json': warRoom(), 'pipeline.json': pipeline(), 'plan.json': plan() };
// Grafana needs unique panel ids; alert links (viewPanel=N) rely on them.
for (const [file, b] of Object.entries(dashboards)) {
  const ids = b.build().panels.map((p) => p.id);
  if (new Set(ids).size !== ids.length) throw new Error(`${file}: duplicate panel ids ${ids}`);
}
const rendered = Object.fromEntries(
  Object.entries(dashboards).map(([file, b]) => [file, JSON.stringify(b.build(), null, 2) + '\n']));

if (process.argv.includes('--exprs')) {
  for (const text of Object.values(rendered)) {
    for (const panel of JSON.parse(text).panels ?? []) {
      for (const t of panel.targets ?? []) console.log(`${panel.id}\t${t.expr}`);
    }
  }
} else if (process.argv.includes('--check')) {
  let stale = 0;
  for (const [file, text] of Object.entries(rendered)) {
    let committed = '';
    try { committed = readFileSync(join(OUT, file), 'utf8'); } catch { /* missing */ }
    if (committed !== text) {
      console.error(`deploy/grafana/dashboards/${file} differs from what build.mjs builds: run (cd deploy/grafana/src && npm ci && npm run build)`);
      stale++;
    }
  }
  if (stale) process.exit(1);
  console.log(`dashboards up to date: ${Object.keys(rendered).join(', ')}`);
} else {
  for (const [file, text] of Object.entries(rendered)) writeFileSync(join(OUT, file), text);
  console.log(`wrote ${Object.keys(rendered).map((f) => `dashboards/${f}`).join(', ')}`);
}

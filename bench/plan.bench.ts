// Planning N deliveries (default 1,000,000 active subscribers) on PostgreSQL vs SQLite, in one
// run: the ratio is PostgreSQL's time ÷ SQLite's (target ≤ 3). Seeding is not measured.
//   npm run bench:plan [-- N]      LETTERPRESS_BENCH_POSTGRES=postgres://user@host:port (default: 127.0.0.1:5432, user postgres)
import { comparePlanning } from './plan-comparison.ts';

const total = Number(process.argv[2] ?? 1_000_000);
const { sqlite, postgres } = await comparePlanning(total);
const rate = (seconds: number) => `${Math.round(total / seconds).toLocaleString('en')} rows/s`;
console.log(`planning ${total.toLocaleString('en')} deliveries`);
console.log(`  SQLite:     ${sqlite.toFixed(2)} s (${rate(sqlite)})`);
console.log(`  PostgreSQL: ${postgres.toFixed(2)} s (${rate(postgres)})`);
console.log(`  ratio PostgreSQL / SQLite: ${(postgres / sqlite).toFixed(2)} (target ≤ 3)`);

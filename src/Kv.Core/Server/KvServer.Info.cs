using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kv.Commands;

namespace Kv.Server;

public sealed partial class KvServer
{
    private readonly Dictionary<string, Action<StringBuilder>> _infoSections = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Section order of INFO "everything" (7.0.15 genRedisInfoString).</summary>
    public static readonly string[] InfoOrder =
        ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"];

    /// <summary>Sections printed by plain INFO / INFO default.</summary>
    public static readonly HashSet<string> DefaultSections =
        new(["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace"], StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Registers (or replaces) an INFO section body writer. The writer appends "field:value\r\n" lines; the
    /// "# Title" header is added by <see cref="GenerateInfo"/>.
    /// </summary>
    public void SetInfoSection(string name, Action<StringBuilder> writer) => _infoSections[name] = writer;

    /// <summary>Builds the INFO text for the requested section names ("default", "all", "everything" or names).</summary>
    public string GenerateInfo(IReadOnlyList<string> requested)
    {
        EnsureDefaultInfoSections();
        var want = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (requested.Count == 0) want.UnionWith(DefaultSections);
        foreach (var r in requested)
        {
            var s = r.ToLowerInvariant();
            if (s == "default") want.UnionWith(DefaultSections);
            else if (s is "all" or "everything") { want.UnionWith(InfoOrder); }
            else want.Add(s);
        }
        var sb = new StringBuilder();
        int n = 0;
        foreach (var name in InfoOrder)
        {
            if (!want.Contains(name)) continue;
            if (!_infoSections.TryGetValue(name, out var writer)) continue;
            if (n++ > 0) sb.Append("\r\n");
            sb.Append("# ").Append(name == "cpu" ? "CPU" : char.ToUpperInvariant(name[0]) + name[1..]).Append("\r\n");
            writer(sb);
        }
        return sb.ToString();
    }

    private bool _infoInit;

    private void EnsureDefaultInfoSections()
    {
        if (_infoInit) return;
        _infoInit = true;
        void Def(string name, Action<StringBuilder> w) { if (!_infoSections.ContainsKey(name)) _infoSections[name] = w; }
        Def("server", InfoServer);
        Def("clients", InfoClients);
        Def("memory", InfoMemory);
        Def("persistence", sb => sb.Append("loading:").Append(Loading ? 1 : 0).Append("\r\n"));
        Def("stats", InfoStats);
        Def("replication", sb => sb.Append("role:master\r\nconnected_slaves:0\r\n"));
        Def("cpu", InfoCpu);
        Def("modules", _ => { });
        Def("commandstats", InfoCommandStats);
        Def("errorstats", InfoErrorStats);
        Def("latencystats", InfoLatencyStats);
        Def("cluster", sb => sb.Append("cluster_enabled:0\r\n"));
        Def("keyspace", InfoKeyspace);
    }

    private static string Human(long bytes)
    {
        double d = bytes;
        if (bytes < 1024) return bytes + "B";
        if (d < 1024 * 1024) return (d / 1024).ToString("F2", CultureInfo.InvariantCulture) + "K";
        if (d < 1024.0 * 1024 * 1024) return (d / 1024 / 1024).ToString("F2", CultureInfo.InvariantCulture) + "M";
        if (d < 1024.0 * 1024 * 1024 * 1024) return (d / 1024 / 1024 / 1024).ToString("F2", CultureInfo.InvariantCulture) + "G";
        if (d < 1024.0 * 1024 * 1024 * 1024 * 1024) return (d / 1024 / 1024 / 1024 / 1024).ToString("F2", CultureInfo.InvariantCulture) + "T";
        return (d / 1024 / 1024 / 1024 / 1024 / 1024).ToString("F2", CultureInfo.InvariantCulture) + "P";
    }

    private void InfoServer(StringBuilder sb)
    {
        var p = Process.GetCurrentProcess();
        sb.Append("redis_version:").Append(KvVersion.RedisVersion).Append("\r\n")
          .Append("redis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\n")
          .Append("redis_mode:standalone\r\n")
          .Append("os:").Append(Environment.OSVersion.VersionString).Append("\r\n")
          .Append("arch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\n")
          .Append("gcc_version:0.0.0\r\n")
          .Append("process_id:").Append(Environment.ProcessId).Append("\r\n")
          .Append("process_supervised:no\r\n")
          .Append("run_id:").Append(RunId).Append("\r\n")
          .Append("tcp_port:").Append(Port).Append("\r\n")
          .Append("server_time_usec:").Append(UnixMs() * 1000).Append("\r\n")
          .Append("uptime_in_seconds:").Append(UptimeSeconds).Append("\r\n")
          .Append("uptime_in_days:").Append(UptimeSeconds / 86400).Append("\r\n")
          .Append("hz:").Append(Config.GetLong("hz")).Append("\r\n")
          .Append("configured_hz:").Append(Config.GetLong("hz")).Append("\r\n")
          .Append("lru_clock:").Append((UnixMs() / 1000) & ((1 << 24) - 1)).Append("\r\n")
          .Append("executable:").Append(Environment.ProcessPath).Append("\r\n")
          .Append("config_file:").Append(Config.ConfigFile ?? "").Append("\r\n")
          .Append("io_threads_active:0\r\n");
        _ = p;
    }

    private void InfoClients(StringBuilder sb)
    {
        int replicas = Clients.Values.Count(c => c.IsReplica);
        sb.Append("connected_clients:").Append(Clients.Count - replicas).Append("\r\n")
          .Append("cluster_connections:0\r\n")
          .Append("maxclients:").Append(Config.GetLong("maxclients")).Append("\r\n")
          .Append("client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n")
          .Append("blocked_clients:").Append(Blocking.BlockedClients).Append("\r\n")
          .Append("tracking_clients:0\r\nclients_in_timeout_table:").Append(Blocking.BlockedClients).Append("\r\n");
    }

    /// <summary>Bytes used by the managed heap (INFO used_memory).</summary>
    public static long UsedMemory() => GC.GetTotalMemory(false);

    // used_memory when the server object was built (INFO used_memory_startup).
    private readonly long _startupMemory = GC.GetTotalMemory(false);
    private long _peakMemory;

    /// <summary>
    /// Resident set size in bytes: the second field of /proc/self/statm (pages) times the page size, as redis's
    /// zmalloc_get_rss; falls back to <see cref="Environment.WorkingSet"/> where /proc is missing.
    /// </summary>
    public static long ResidentSetSize()
    {
        try
        {
            var parts = File.ReadAllText("/proc/self/statm").Split(' ');
            if (parts.Length > 1 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long pages))
                return pages * Environment.SystemPageSize;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return Environment.WorkingSet;
    }

    /// <summary>Physical memory of the machine (MemTotal of /proc/meminfo), else what the GC sees as available.</summary>
    private static long TotalSystemMemory()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("MemTotal:", StringComparison.Ordinal)) continue;
                var num = line["MemTotal:".Length..].Trim().Split(' ')[0];
                if (long.TryParse(num, NumberStyles.None, CultureInfo.InvariantCulture, out long kb)) return kb * 1024;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    private static string F2(double d) => d.ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>
    /// INFO memory with the field names and order of 7.0.15 genRedisInfoString. Kv runs on the .NET GC, so the
    /// figures are mapped as follows (all bytes):
    /// used_memory = GC.GetTotalMemory(false) (managed heap incl. not yet collected garbage); used_memory_rss =
    /// /proc/self/statm resident pages; used_memory_peak = highest used_memory seen by INFO/cron; used_memory_startup
    /// = used_memory when the server was constructed; used_memory_overhead = startup + key-table estimate (48 bytes
    /// per key, 32 per TTL entry, as dictEntry + sds header) + client buffers; used_memory_dataset = used - overhead;
    /// allocator_allocated = used_memory, allocator_active = GC committed bytes, allocator_resident = max(active,
    /// rss) (ratios/bytes derived from these exactly as redis derives them from jemalloc's); Lua / functions fields are
    /// 0 (kv has no scripting VM); mem_clients_normal = query + pending output bytes of normal clients plus 1 KiB per
    /// client; mem_not_counted_for_evict, mem_cluster_links, mem_aof_buffer, lazyfree figures are 0 (no AOF, cluster or
    /// lazy-free thread); mem_allocator is "dotnet-gc". The three replication fields come from the replication
    /// component (<see cref="MemoryInfoExtra"/>), 0 without it.
    /// </summary>
    private void InfoMemory(StringBuilder sb)
    {
        long used = UsedMemory();
        long rss = ResidentSetSize();
        if (used > _peakMemory) _peakMemory = used;
        long peak = _peakMemory;
        long totalSys = TotalSystemMemory();
        long maxmem = Config.GetLong("maxmemory");
        long keys = 0, expires = 0;
        foreach (var db in Databases)
        {
            keys += db.Count;
            expires += db.Expires.Count;
        }
        long clientsNormal = 0;
        foreach (var c in Clients.Values)
        {
            if (c.IsReplica) continue;
            clientsNormal += 1024 + c.QueryBufferLength + c.Out.Length;
        }
        long startup = Math.Min(_startupMemory, used);
        long overhead = Math.Min(used, startup + keys * 48 + expires * 32 + clientsNormal);
        long dataset = used - overhead;
        long netUsage = used - startup;
        var gcInfo = GC.GetGCMemoryInfo();
        long allocated = used;
        long active = Math.Max(allocated, gcInfo.TotalCommittedBytes);
        long resident = Math.Max(active, rss);
        sb.Append("used_memory:").Append(used).Append("\r\n")
          .Append("used_memory_human:").Append(Human(used)).Append("\r\n")
          .Append("used_memory_rss:").Append(rss).Append("\r\n")
          .Append("used_memory_rss_human:").Append(Human(rss)).Append("\r\n")
          .Append("used_memory_peak:").Append(peak).Append("\r\n")
          .Append("used_memory_peak_human:").Append(Human(peak)).Append("\r\n")
          .Append("used_memory_peak_perc:").Append(F2(peak == 0 ? 0 : used * 100.0 / peak)).Append("%\r\n")
          .Append("used_memory_overhead:").Append(overhead).Append("\r\n")
          .Append("used_memory_startup:").Append(startup).Append("\r\n")
          .Append("used_memory_dataset:").Append(dataset).Append("\r\n")
          .Append("used_memory_dataset_perc:").Append(F2(netUsage <= 0 ? 0 : dataset * 100.0 / netUsage)).Append("%\r\n")
          .Append("allocator_allocated:").Append(allocated).Append("\r\n")
          .Append("allocator_active:").Append(active).Append("\r\n")
          .Append("allocator_resident:").Append(resident).Append("\r\n")
          .Append("total_system_memory:").Append(totalSys).Append("\r\n")
          .Append("total_system_memory_human:").Append(Human(totalSys)).Append("\r\n")
          .Append("used_memory_lua:0\r\nused_memory_vm_eval:0\r\nused_memory_lua_human:0B\r\n")
          .Append("used_memory_scripts_eval:0\r\nnumber_of_cached_scripts:0\r\nnumber_of_functions:0\r\n")
          .Append("number_of_libraries:0\r\nused_memory_vm_functions:0\r\nused_memory_vm_total:0\r\n")
          .Append("used_memory_vm_total_human:0B\r\nused_memory_functions:0\r\nused_memory_scripts:0\r\n")
          .Append("used_memory_scripts_human:0B\r\n")
          .Append("maxmemory:").Append(maxmem).Append("\r\n")
          .Append("maxmemory_human:").Append(Human(maxmem)).Append("\r\n")
          .Append("maxmemory_policy:").Append(Config.Get("maxmemory-policy")).Append("\r\n")
          .Append("allocator_frag_ratio:").Append(F2((double)active / allocated)).Append("\r\n")
          .Append("allocator_frag_bytes:").Append(active - allocated).Append("\r\n")
          .Append("allocator_rss_ratio:").Append(F2((double)resident / active)).Append("\r\n")
          .Append("allocator_rss_bytes:").Append(resident - active).Append("\r\n")
          .Append("rss_overhead_ratio:").Append(F2((double)rss / resident)).Append("\r\n")
          .Append("rss_overhead_bytes:").Append(rss - resident).Append("\r\n")
          .Append("mem_fragmentation_ratio:").Append(F2(used == 0 ? 0 : (double)rss / used)).Append("\r\n")
          .Append("mem_fragmentation_bytes:").Append(rss - used).Append("\r\n")
          .Append("mem_not_counted_for_evict:0\r\n");
        if (MemoryInfoExtra is { } extra) extra(sb);
        else sb.Append("mem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\n");
        sb.Append("mem_clients_normal:").Append(clientsNormal).Append("\r\n")
          .Append("mem_cluster_links:0\r\nmem_aof_buffer:0\r\n")
          .Append("mem_allocator:dotnet-gc\r\n")
          .Append("active_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n");
    }

    /// <summary>
    /// The replication lines of "INFO memory" (mem_replication_backlog, mem_total_replication_buffers,
    /// mem_clients_slaves), written between mem_not_counted_for_evict and mem_clients_normal as in 7.0.15.
    /// </summary>
    public Action<StringBuilder>? MemoryInfoExtra { get; set; }

    /// <summary>Extra "INFO stats" lines appended after the built-in ones.</summary>
    public Action<StringBuilder>? StatsInfoExtra { get; set; }

    private void InfoStats(StringBuilder sb)
    {
        var s = Stats;
        sb.Append("total_connections_received:").Append(s.TotalConnections).Append("\r\n")
          .Append("total_commands_processed:").Append(s.TotalCommands).Append("\r\n")
          .Append("instantaneous_ops_per_sec:0\r\n")
          .Append("total_net_input_bytes:").Append(s.NetInputBytes).Append("\r\n")
          .Append("total_net_output_bytes:").Append(s.NetOutputBytes).Append("\r\n")
          .Append("total_net_repl_input_bytes:").Append(s.NetReplInputBytes).Append("\r\n")
          .Append("total_net_repl_output_bytes:").Append(s.NetReplOutputBytes).Append("\r\n")
          .Append("instantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\n")
          .Append("instantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\n")
          .Append("rejected_connections:").Append(s.RejectedConnections).Append("\r\n")
          .Append("sync_full:").Append(s.SyncFull).Append("\r\n")
          .Append("sync_partial_ok:").Append(s.SyncPartialOk).Append("\r\n")
          .Append("sync_partial_err:").Append(s.SyncPartialErr).Append("\r\n")
          .Append("expired_keys:").Append(s.ExpiredKeys).Append("\r\n")
          .Append("expired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\n")
          .Append("evicted_keys:").Append(s.EvictedKeys).Append("\r\n")
          .Append("evicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\n")
          .Append("keyspace_hits:").Append(s.KeyspaceHits).Append("\r\n")
          .Append("keyspace_misses:").Append(s.KeyspaceMisses).Append("\r\n")
          .Append("pubsub_channels:").Append(PubSub.ActiveChannels.Count()).Append("\r\n")
          .Append("pubsub_patterns:").Append(PubSub.PatternCount).Append("\r\n")
          .Append("pubsubshard_channels:0\r\n")
          .Append("latest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\n")
          .Append("slave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\n")
          .Append("active_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\n")
          .Append("total_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\n")
          .Append("tracking_total_keys:0\r\ntracking_total_items:0\r\ntracking_total_prefixes:0\r\n")
          .Append("unexpected_error_replies:0\r\n")
          .Append("total_error_replies:").Append(s.ErrorReplies).Append("\r\n")
          .Append("dump_payload_sanitizations:0\r\n")
          .Append("total_reads_processed:0\r\ntotal_writes_processed:0\r\n")
          .Append("io_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\n")
          .Append("reply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n");
        StatsInfoExtra?.Invoke(sb);
    }

    private static void InfoCpu(StringBuilder sb)
    {
        var p = Process.GetCurrentProcess();
        sb.Append("used_cpu_sys:").Append(p.PrivilegedProcessorTime.TotalSeconds.ToString("F6", CultureInfo.InvariantCulture)).Append("\r\n")
          .Append("used_cpu_user:").Append(p.UserProcessorTime.TotalSeconds.ToString("F6", CultureInfo.InvariantCulture)).Append("\r\n")
          .Append("used_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n")
          .Append("used_cpu_sys_main_thread:0.000000\r\nused_cpu_user_main_thread:0.000000\r\n");
    }

    private void InfoCommandStats(StringBuilder sb)
    {
        foreach (var def in Commands.All.OrderBy(d => d.Name))
        {
            void One(CommandDef d)
            {
                if (d.Calls == 0 && d.RejectedCalls == 0 && d.FailedCalls == 0) return;
                double per = d.Calls == 0 ? 0 : (double)d.Microseconds / d.Calls;
                sb.Append("cmdstat_").Append(d.FullName).Append(":calls=").Append(d.Calls).Append(",usec=").Append(d.Microseconds)
                  .Append(",usec_per_call=").Append(per.ToString("F2", CultureInfo.InvariantCulture))
                  .Append(",rejected_calls=").Append(d.RejectedCalls).Append(",failed_calls=").Append(d.FailedCalls).Append("\r\n");
            }
            One(def);
            if (def.Subcommands is not null) foreach (var s in def.Subcommands.Values.OrderBy(x => x.Name)) One(s);
        }
    }

    /// <summary>
    /// The keyspace avg_ttl estimate of expire.c activeExpireCycle (7.0.15): after each sampling round of a database,
    /// the mean remaining TTL (ms) of the sampled keys that are not yet expired enters a running average with weight
    /// 2% (the first estimate is taken whole); a database without volatile keys has 0.
    /// </summary>
    internal static void UpdateAvgTtl(Kv.Storage.RedisDb db, long ttlSum, long ttlSamples)
    {
        if (ttlSamples == 0) return;
        long avg = ttlSum / ttlSamples;
        if (db.AvgTtl == 0) db.AvgTtl = avg;
        db.AvgTtl = db.AvgTtl / 50 * 49 + avg / 50;
    }

    /// <summary>
    /// INFO latencystats (7.0.15 genRedisInfoStringLatencyStats): one <c>latency_percentiles_usec_&lt;cmd&gt;</c>
    /// line per command (and subcommand, "config|get") called at least once, with the percentiles of
    /// latency-tracking-info-percentiles named as "%f" with trailing zeros removed and values as "%.3f" µs. Kv keeps
    /// no per-call histogram, so every percentile is the mean latency (usec / calls): an estimate. Empty when
    /// latency-tracking is off.
    /// </summary>
    private void InfoLatencyStats(StringBuilder sb)
    {
        if (!string.Equals(Config.Get("latency-tracking"), "yes", StringComparison.OrdinalIgnoreCase)) return;
        var pcts = Config.Get("latency-tracking-info-percentiles").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        void One(CommandDef d)
        {
            if (d.Calls == 0) return;
            double mean = (double)d.Microseconds / d.Calls;
            sb.Append("latency_percentiles_usec_").Append(d.FullName).Append(':');
            for (int i = 0; i < pcts.Length; i++)
            {
                if (i > 0) sb.Append(',');
                double p = double.Parse(pcts[i], CultureInfo.InvariantCulture);
                var name = p.ToString("F6", CultureInfo.InvariantCulture).TrimEnd('0').TrimEnd('.');
                sb.Append('p').Append(name).Append('=').Append(mean.ToString("F3", CultureInfo.InvariantCulture));
            }
            sb.Append("\r\n");
        }
        foreach (var def in Commands.All.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            One(def);
            if (def.Subcommands is not null) foreach (var sub in def.Subcommands.Values.OrderBy(x => x.Name, StringComparer.Ordinal)) One(sub);
        }
    }

    // Error code -> count, ordinal order (redis keeps them in a rax, which iterates in byte order).
    private readonly SortedDictionary<string, long> _errorStats = new(StringComparer.Ordinal);

    /// <summary>
    /// afterErrorReply's incrementErrorCount (7.0.15) for an error reply given from its '-' (or its text without it):
    /// the code is the text up to the first space within the first 32 bytes, "ERR" when there is none.
    /// </summary>
    public void CountErrorReply(ReadOnlySpan<byte> reply)
    {
        if (reply.Length == 0 || reply[0] != (byte)'-') { Count("ERR"); return; }
        int space = reply[..Math.Min(reply.Length, 32)].IndexOf((byte)' ');
        Count(space > 1 ? Encoding.Latin1.GetString(reply[1..space]) : space == 1 ? "" : "ERR");

        void Count(string code) => _errorStats[code] = _errorStats.GetValueOrDefault(code) + 1;
    }

    /// <summary>Same as <see cref="CountErrorReply(ReadOnlySpan{byte})"/> for an error text without the '-' ("ERR syntax error").</summary>
    public void CountErrorReply(string text) => CountErrorReply(Encoding.Latin1.GetBytes("-" + text));

    /// <summary>CONFIG RESETSTAT's resetErrorTableStats.</summary>
    public void ResetErrorStats() => _errorStats.Clear();

    /// <summary>INFO errorstats: <c>errorstat_&lt;CODE&gt;:count=N</c> in byte order of the codes ('#', ':', CR, LF shown as '_').</summary>
    private void InfoErrorStats(StringBuilder sb)
    {
        foreach (var (code, n) in _errorStats)
            sb.Append("errorstat_").Append(code.Replace('#', '_').Replace(':', '_').Replace('\r', '_').Replace('\n', '_')).Append(":count=").Append(n).Append("\r\n");
    }

    private void InfoKeyspace(StringBuilder sb)
    {
        foreach (var db in Databases)
        {
            if (db.Count == 0) continue;
            sb.Append("db").Append(db.Id).Append(":keys=").Append(db.Count).Append(",expires=").Append(db.Expires.Count)
              .Append(",avg_ttl=").Append(db.AvgTtl).Append("\r\n");
        }
    }
}

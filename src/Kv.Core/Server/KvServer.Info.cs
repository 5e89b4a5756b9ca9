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
            sb.Append("# ").Append(char.ToUpperInvariant(name[0])).Append(name[1..]).Append("\r\n");
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
        Def("errorstats", _ => { });
        Def("latencystats", _ => { });
        Def("cluster", sb => sb.Append("cluster_enabled:0\r\n"));
        Def("keyspace", InfoKeyspace);
    }

    private static string Human(long bytes)
    {
        double d = bytes;
        if (bytes < 1024) return bytes + "B";
        if (d < 1024 * 1024) return (d / 1024).ToString("F2", CultureInfo.InvariantCulture) + "K";
        if (d < 1024.0 * 1024 * 1024) return (d / 1024 / 1024).ToString("F2", CultureInfo.InvariantCulture) + "M";
        return (d / 1024 / 1024 / 1024).ToString("F2", CultureInfo.InvariantCulture) + "G";
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
          .Append("io_threads_active:0\r\n")
          .Append("kv_implementation:kv-server (.NET ").Append(Environment.Version).Append(")\r\n");
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

    private void InfoMemory(StringBuilder sb)
    {
        long used = UsedMemory();
        long rss = Environment.WorkingSet;
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        sb.Append("used_memory:").Append(used).Append("\r\n")
          .Append("used_memory_human:").Append(Human(used)).Append("\r\n")
          .Append("used_memory_rss:").Append(rss).Append("\r\n")
          .Append("used_memory_rss_human:").Append(Human(rss)).Append("\r\n")
          .Append("used_memory_peak:").Append(peak).Append("\r\n")
          .Append("used_memory_peak_human:").Append(Human(peak)).Append("\r\n")
          .Append("total_system_memory:").Append(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes).Append("\r\n")
          .Append("maxmemory:").Append(Config.GetLong("maxmemory")).Append("\r\n")
          .Append("maxmemory_human:").Append(Human(Config.GetLong("maxmemory"))).Append("\r\n")
          .Append("maxmemory_policy:").Append(Config.Get("maxmemory-policy")).Append("\r\n")
          .Append("mem_fragmentation_ratio:").Append(used == 0 ? "0" : ((double)rss / used).ToString("F2", CultureInfo.InvariantCulture)).Append("\r\n")
          .Append("mem_allocator:dotnet-gc\r\n");
        MemoryInfoExtra?.Invoke(sb);
    }

    /// <summary>Extra "INFO memory" lines (the replication buffer figures are added by replication).</summary>
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

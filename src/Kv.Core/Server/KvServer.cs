using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kv.Commands;
using Kv.Resp;
using Kv.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Server;

/// <summary>Counters reported by INFO stats (server.stat_* in server.h).</summary>
public sealed class ServerStats
{
    /// <summary>total_connections_received.</summary>
    public long TotalConnections;
    /// <summary>total_commands_processed.</summary>
    public long TotalCommands;
    /// <summary>total_net_input_bytes.</summary>
    public long NetInputBytes;
    /// <summary>total_net_output_bytes.</summary>
    public long NetOutputBytes;
    /// <summary>total_net_repl_input_bytes.</summary>
    public long NetReplInputBytes;
    /// <summary>total_net_repl_output_bytes.</summary>
    public long NetReplOutputBytes;
    /// <summary>rejected_connections.</summary>
    public long RejectedConnections;
    /// <summary>expired_keys.</summary>
    public long ExpiredKeys;
    /// <summary>evicted_keys.</summary>
    public long EvictedKeys;
    /// <summary>keyspace_hits.</summary>
    public long KeyspaceHits;
    /// <summary>keyspace_misses.</summary>
    public long KeyspaceMisses;
    /// <summary>sync_full.</summary>
    public long SyncFull;
    /// <summary>sync_partial_ok.</summary>
    public long SyncPartialOk;
    /// <summary>sync_partial_err.</summary>
    public long SyncPartialErr;
    /// <summary>pubsub messages delivered (not in INFO; diagnostics).</summary>
    public long PubSubMessages;
    /// <summary>total_error_replies.</summary>
    public long ErrorReplies;
    /// <summary>Resets the counters CONFIG RESETSTAT resets.</summary>
    public void Reset()
    {
        TotalConnections = TotalCommands = NetInputBytes = NetOutputBytes = NetReplInputBytes = NetReplOutputBytes = 0;
        RejectedConnections = ExpiredKeys = EvictedKeys = KeyspaceHits = KeyspaceMisses = 0;
        SyncFull = SyncPartialOk = SyncPartialErr = ErrorReplies = 0;
    }
}

/// <summary>
/// Optional parts plugged into the server by other components (persistence, replication): each hook is called
/// under the execution lock.
/// </summary>
public interface IServerExtension
{
    /// <summary>Called once after the server is constructed, before it listens.</summary>
    void Attach(KvServer server);

    /// <summary>Called by the cron (every 1000/hz ms) under the execution lock.</summary>
    void Cron(long nowMs);
}

/// <summary>
/// Receives the effects of write commands in execution order (the replication feed, 7.0 propagateNow /
/// feedReplicationBuffer). Called under the execution lock.
/// </summary>
public interface IPropagationSink
{
    /// <summary>
    /// One execution unit's operations in order. <paramref name="ops"/> has one argv per operation, each tagged with
    /// the database it applies to. A unit with several ops must be wrapped in MULTI/EXEC by the sink.
    /// </summary>
    void Propagate(IReadOnlyList<(int Db, IReadOnlyList<byte[]> Argv)> ops);

    /// <summary>
    /// False while propagated operations would be dropped anyway (no replication backlog, or we are a replica), so
    /// callers can skip building argument vectors (replicationFeedSlaves returns early without a backlog).
    /// </summary>
    bool Active => true;

    /// <summary>
    /// An execution unit of exactly one operation whose argv is the client's request as received (the common
    /// case of a plain write): sinks may encode it straight from <paramref name="req"/>'s buffer. The default copies
    /// the arguments and calls <see cref="Propagate"/>.
    /// </summary>
    void PropagateRequest(int db, Kv.Resp.Request req)
    {
        var argv = new byte[req.Count][];
        for (int i = 0; i < req.Count; i++) argv[i] = req.ToArray(i);
        Propagate([(db, argv)]);
    }
}

/// <summary>
/// The Kv server: configuration, databases, command table, connected clients and the single execution lock
/// that serializes every command (redis's one-threaded semantics), while socket I/O and parsing run on the
/// thread pool. See docs/ARCHITECTURE.md.
/// </summary>
public sealed partial class KvServer : IAsyncDisposable
{
    private readonly List<Socket> _listeners = [];
    private readonly CancellationTokenSource _stop = new();

    /// <summary>True once the server is shutting down (DisposeAsync began): links must not reconnect.</summary>
    internal bool IsStopping => _stop.IsCancellationRequested;
    private Thread? _cronThread;
    private long _nextClientId = 2; // redis 7.0 creates two fake (Lua) clients first: real clients start at id 3
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private readonly List<(int Db, IReadOnlyList<byte[]> Argv)> _pendingOps = [];

    /// <summary>Creates a server from a configuration (not yet listening).</summary>
    public KvServer(KvConfig config, ILoggerFactory? loggerFactory = null)
    {
        Config = config;
        ProtoMaxBulkLen = config.Param("proto-max-bulk-len");
        MaxMemory = config.Param("maxmemory");
        ClientQueryBufferLimit = config.Param("client-query-buffer-limit");
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        Log = LoggerFactory.CreateLogger("kv");
        int n = (int)config.GetLong("databases");
        Databases = new RedisDb[n];
        for (int i = 0; i < n; i++) Databases[i] = new RedisDb(i);
        Commands = new CommandTable();
        CommandRegistry.RegisterAll(Commands);
        Watches = new WatchRegistry();
        Blocking = new BlockingManager(this);
        PubSub = new PubSubRegistry(this);
        RunId = RandomHex(40);
    }

    /// <summary>The lock every command executes under (and every change to shared state happens under).</summary>
    public object ExecLock { get; } = new();

    /// <summary>
    /// True while a client's batch of requests runs (ClientSession.ProcessAndSendAsync, under <see cref="ExecLock"/>).
    /// Writes to replicas made during a batch are sent at its end by <see cref="AfterClientBatch"/> on the same
    /// thread, as redis writes to replicas in beforeSleep, instead of waking a sender thread per write.
    /// </summary>
    internal bool InClientBatch;

    /// <summary>
    /// Runs at the end of every client batch (argument false) or, on the event loop, once at the end of each
    /// iteration (argument true: beforeSleep), under <see cref="ExecLock"/>: the replication component's flush.
    /// </summary>
    internal Action<bool>? AfterClientBatch;

    /// <summary>Configuration.</summary>
    public KvConfig Config { get; }

    /// <summary>Logger factory (for extensions).</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>Server log.</summary>
    public ILogger Log { get; }

    /// <summary>The databases (SELECT 0..databases-1).</summary>
    public RedisDb[] Databases { get; }

    /// <summary>The command table.</summary>
    public CommandTable Commands { get; }

    /// <summary>WATCHed keys.</summary>
    public WatchRegistry Watches { get; }

    /// <summary>Clients blocked on keys (BLPOP...).</summary>
    public BlockingManager Blocking { get; }

    /// <summary>Pub/sub channels and patterns.</summary>
    public PubSubRegistry PubSub { get; }

    /// <summary>Counters for INFO stats.</summary>
    public ServerStats Stats { get; } = new();

    /// <summary>Connected clients by id.</summary>
    public Dictionary<long, ClientSession> Clients { get; } = [];

    /// <summary>Clients in MONITOR mode.</summary>
    public List<ClientSession> Monitors { get; } = [];

    /// <summary>run_id (40 hex chars).</summary>
    public string RunId { get; }

    /// <summary>Changes since the last successful save (rdb_changes_since_last_save).</summary>
    public long Dirty { get; set; }

    /// <summary>True while the dataset is being loaded.</summary>
    public bool Loading { get; set; }

    /// <summary>True when this server replicates from a master (server.masterhost != NULL). Set by replication.</summary>
    public bool IsReplica { get; set; }

    /// <summary>Sink for the replication stream, or null when nothing consumes it.</summary>
    public IPropagationSink? PropagationSink { get; set; }

    /// <summary>Called by FLUSHALL after emptying the databases (persistence saves when save points are set).</summary>
    public Action? OnFlushAll { get; set; }

    /// <summary>False after DEBUG SET-ACTIVE-EXPIRE 0.</summary>
    public bool ActiveExpireEnabled { get; set; } = true;

    /// <summary>Extensions (persistence, replication) with cron hooks.</summary>
    public List<IServerExtension> Extensions { get; } = [];

    /// <summary>Endpoints the server listens on (with the actual port when 0 was configured).</summary>
    public List<IPEndPoint> Endpoints { get; } = [];

    /// <summary>Seconds since start.</summary>
    public long UptimeSeconds => (long)_uptime.Elapsed.TotalSeconds;

    /// <summary>Set when SHUTDOWN was requested; completes when the server has stopped.</summary>
    public TaskCompletionSource ShutdownRequested { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>maxmemory in bytes (0 = no limit), read for every denyoom command.</summary>
    internal ConfigParam MaxMemory { get; }

    private long _memCheckedAtMs = long.MinValue / 2;
    private long _exactUsed, _allocatedAtCheck;

    /// <summary>
    /// True when used memory exceeds maxmemory. The managed heap counts garbage until a collection, so a reading over
    /// the limit is confirmed by a full collection, at most every 100 ms; in between, the live size measured then
    /// plus everything allocated since (an upper bound) decides.
    /// </summary>
    internal bool OverMaxMemory()
    {
        long limit = MaxMemory.Number;
        if (UsedMemory() <= limit) return false;
        long now = Environment.TickCount64;
        if (now - _memCheckedAtMs < 100)
            return _exactUsed + (GC.GetTotalAllocatedBytes(false) - _allocatedAtCheck) > limit;
        _memCheckedAtMs = now;
        _exactUsed = GC.GetTotalMemory(forceFullCollection: true);
        _allocatedAtCheck = GC.GetTotalAllocatedBytes(false);
        return _exactUsed > limit;
    }

    /// <summary>proto-max-bulk-len, read once per request batch.</summary>
    internal ConfigParam ProtoMaxBulkLen { get; }

    /// <summary>client-query-buffer-limit, read on every incomplete request.</summary>
    internal ConfigParam ClientQueryBufferLimit { get; }

    /// <summary>
    /// SO_REUSEADDR alone, as redis's anetSetReuseAddr: a restart can bind while old connections sit in TIME_WAIT.
    /// .NET's <see cref="SocketOptionName.ReuseAddress"/> also sets SO_REUSEPORT on Linux, which would let a second
    /// server bind the same port and share its clients, so the raw option is set on Linux.
    /// </summary>
    public static void SetReuseAddressOnly(Socket sock)
    {
        if (OperatingSystem.IsLinux()) sock.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        else if (!OperatingSystem.IsWindows()) sock.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
    }

    /// <summary>Unix time in milliseconds (<see cref="KvClock.UnixMs"/>).</summary>
    public static long UnixMs() => KvClock.UnixMs();

    /// <summary>Random lower-case hex string (run ids, replids).</summary>
    public static string RandomHex(int n)
    {
        var bytes = new byte[(n + 1) / 2];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        return Convert.ToHexStringLower(bytes)[..n];
    }

    /// <summary>Registers an extension and attaches it.</summary>
    public void AddExtension(IServerExtension ext)
    {
        Extensions.Add(ext);
        ext.Attach(this);
    }

    /// <summary>Binds the configured addresses and starts accepting clients and the cron thread.</summary>
    /// <exception cref="SocketException">A bind failed (e.g. port in use).</exception>
    public void Start()
    {
        int port = (int)Config.GetLong("port");
        var binds = Config.Get("bind").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (var b in binds)
        {
            bool optional = b.StartsWith('-');
            var addrText = b.TrimStart('-');
            IPAddress addr = addrText switch
            {
                "*" => IPAddress.Any,
                "::*" => IPAddress.IPv6Any,
                "localhost" => IPAddress.Loopback,
                _ => IPAddress.Parse(addrText),
            };
            var sock = new Socket(addr.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (addr.AddressFamily == AddressFamily.InterNetworkV6) sock.DualMode = false;
                SetReuseAddressOnly(sock);
                sock.Bind(new IPEndPoint(addr, port));
                sock.Listen((int)Config.GetLong("tcp-backlog"));
            }
            catch (SocketException) when (optional)
            {
                sock.Dispose();
                continue;
            }
            catch
            {
                sock.Dispose();
                throw;
            }
            var ep = (IPEndPoint)sock.LocalEndPoint!;
            if (port == 0) port = ep.Port; // all listeners share the first ephemeral port when possible
            Endpoints.Add(ep);
            _listeners.Add(sock);
            _loop ??= EpollLoop.TryCreate(this);
            _ = AcceptLoopAsync(sock);
        }
        _cronThread = new Thread(CronLoop) { IsBackground = true, Name = "kv-cron" };
        _cronThread.Start();
    }

    /// <summary>Port actually listened on.</summary>
    public int Port => Endpoints.Count > 0 ? Endpoints[0].Port : (int)Config.GetLong("port");

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try { s = await listener.AcceptAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException e)
            {
                Log.LogWarning("Accepting client connection: {Error}", e.Message);
                continue;
            }
            s.NoDelay = true;
            ClientSession c;
            lock (ExecLock)
            {
                Stats.TotalConnections++;
                if (Clients.Count >= Config.GetLong("maxclients"))
                {
                    Stats.RejectedConnections++;
                    try { s.Send("-ERR max number of clients reached\r\n"u8); } catch (SocketException) { }
                    s.Dispose();
                    continue;
                }
                c = new ClientSession(this, s, Interlocked.Increment(ref _nextClientId));
                Clients[c.Id] = c;
            }
            if (_loop is null || !_loop.Register(c)) _ = c.RunAsync();
        }
    }

    // The client event loop (null: every client runs as a task).
    private EpollLoop? _loop;

    /// <summary>The client event loop, or null when clients run as tasks (KV_EPOLL=0, not Linux x64, not listening yet).</summary>
    internal EpollLoop? Loop => _loop;

    /// <summary>Creates a client that is not attached to a socket (the master link on a replica, internal callers).</summary>
    public ClientSession CreateDetachedClient(Socket? socket = null)
    {
        lock (ExecLock)
        {
            var c = new ClientSession(this, socket, Interlocked.Increment(ref _nextClientId));
            Clients[c.Id] = c;
            return c;
        }
    }

    internal void RemoveClient(ClientSession c)
    {
        lock (ExecLock)
        {
            Clients.Remove(c.Id);
            Monitors.Remove(c);
            Watches.UnwatchAll(c);
            Blocking.Unblock(c, timedOut: false, silent: true);
            PubSub.UnsubscribeAll(c);
            c.OnClose?.Invoke(c);
        }
    }

    /// <summary>Deletes an expired key and propagates the DEL (deleteExpiredKeyAndPropagate).</summary>
    public void DeleteExpiredKey(RedisDb db, ReadOnlySpan<byte> key)
    {
        var k = key.ToArray();
        db.Delete(key);
        PubSub.NotifyKeyspaceEvent(KeyspaceEvents.Expired, "expired", k, db.Id);
        Stats.ExpiredKeys++;
        Watches.Touch(db.Id, key);
        bool lazy = Config.GetBool("lazyfree-lazy-expire");
        AlsoPropagate(db.Id, [lazy ? "UNLINK"u8.ToArray() : "DEL"u8.ToArray(), k]);
    }

    /// <summary>True when propagated operations reach a sink that uses them (see <see cref="IPropagationSink.Active"/>).</summary>
    public bool PropagationWanted => PropagationSink is { } s && !IsReplica && s.Active;

    /// <summary>
    /// Propagates a top-level command's own request as a whole execution unit, without copying its arguments. Only
    /// valid when nothing else is pending in the unit (<see cref="HasPendingPropagation"/> false).
    /// </summary>
    public void PropagateRequest(int db, Kv.Resp.Request req)
    {
        if (PropagationSink is not { } sink || IsReplica) return;
        if (_pendingOps.Count != 0) throw new InvalidOperationException("operations already pending in this execution unit");
        sink.PropagateRequest(db, req);
    }

    /// <summary>Queues an operation for the replication stream of the current execution unit (alsoPropagate).</summary>
    public void AlsoPropagate(int db, IReadOnlyList<byte[]> argv)
    {
        if (PropagationSink is null || IsReplica) return;
        _pendingOps.Add((db, argv));
    }

    /// <summary>
    /// Flushes the current execution unit's operations to the sink (propagatePendingCommands). Called after each
    /// top-level command, after EXEC, and after each cron expiry cycle.
    /// </summary>
    public void FlushPropagation()
    {
        if (_pendingOps.Count == 0) return;
        var sink = PropagationSink;
        if (sink is not null) sink.Propagate(_pendingOps.ToArray());
        _pendingOps.Clear();
    }

    /// <summary>True when operations are waiting in the current execution unit.</summary>
    public bool HasPendingPropagation => _pendingOps.Count > 0;

    private void CronLoop()
    {
        long lastSecond = 0;
        while (!_stop.IsCancellationRequested)
        {
            int hz = Math.Max(1, (int)Config.GetLong("hz"));
            Thread.Sleep(1000 / hz);
            if (_stop.IsCancellationRequested) return;
            try
            {
                lock (ExecLock)
                {
                    long now = UnixMs();
                    ActiveExpireCycle(now);
                    Blocking.Cron(now);
                    if (now / 1000 != lastSecond)
                    {
                        lastSecond = now / 1000;
                        ClientsCron(now);
                    }
                    foreach (var ext in Extensions) ext.Cron(now);
                    FlushPropagation();
                }
            }
            catch (Exception e)
            {
                Log.LogError(e, "Cron failed");
            }
        }
    }

    private readonly Random _rng = new();

    /// <summary>
    /// Active expiry: samples 20 keys with a TTL per database per cycle and repeats while more than 25% of the
    /// sample was expired, within a time budget of 25% of the cron period (expire.c activeExpireCycle, slow cycle).
    /// Only masters delete; replicas wait for the master's DEL.
    /// </summary>
    private void ActiveExpireCycle(long now)
    {
        if (IsReplica || Loading || !ActiveExpireEnabled || WritesPaused) return;
        var sw = Stopwatch.StartNew();
        long budgetMs = Math.Max(1, 250 / Math.Max(1, Config.GetLong("hz")));
        foreach (var db in Databases)
        {
            int iterations = 0;
            if (db.Expires.Count == 0) db.AvgTtl = 0;
            while (db.Expires.Count > 0)
            {
                int sample = Math.Min(20, db.Expires.Count);
                int expired = 0;
                long ttlSum = 0, ttlSamples = 0;
                for (int i = 0; i < sample; i++)
                {
                    if (!db.Expires.TryGetRandom(_rng, out var key, out var when)) break;
                    if (when < now)
                    {
                        DeleteExpiredKey(db, key);
                        expired++;
                    }
                    else if (when > now) { ttlSum += when - now; ttlSamples++; }
                }
                UpdateAvgTtl(db, ttlSum, ttlSamples);
                FlushPropagation();
                if (expired * 4 <= sample) break;
                if ((++iterations & 15) == 0 && sw.ElapsedMilliseconds > budgetMs) return;
            }
        }
    }

    private void ClientsCron(long now)
    {
        long timeout = Config.GetLong("timeout");
        if (timeout <= 0) return;
        foreach (var c in Clients.Values.ToArray())
        {
            if (c.IsMaster || c.IsReplica || c.BlockedState is not null || c.SubscriptionCount > 0) continue;
            if (now - c.LastInteractionMs > timeout * 1000) c.Close("idle timeout");
        }
    }

    /// <summary>Stops listening, closes all clients and stops the cron.</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        foreach (var l in _listeners) l.Dispose();
        ClientSession[] clients;
        lock (ExecLock) clients = Clients.Values.ToArray();
        foreach (var c in clients) c.Close("server shutdown");
        _loop?.Dispose();
        foreach (var ext in Extensions) if (ext is IAsyncDisposable d) await d.DisposeAsync();
        _cronThread?.Join(2000);
    }
}

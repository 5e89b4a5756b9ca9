using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Kv.Server;

/// <summary>
/// The client event loop on Linux x64: one thread, one epoll set (level-triggered EPOLLIN on every client socket), as
/// redis's ae.c + networking.c do it. Each iteration reads once from every readable client and runs its complete
/// requests (readQueryFromClient / processInputBuffer), then writes the replies of every client that has some
/// (beforeSleep / handleClientsWithPendingWrites), so a burst of requests from many clients costs one epoll_wait,
/// one read and one write per client, and no task or thread hop. A write the socket does not take at once continues
/// on the .NET socket engine (<see cref="ClientSession.SendLoopAsync"/>). Clients unblocked by another thread
/// (BLPOP served by a push) are handed back to the loop through an eventfd.
/// <para>
/// Busy polling: after an iteration that had work, the loop polls epoll without sleeping for up to
/// <c>KV_BUSY_POLL_US</c> microseconds (default 50, the value Linux documents for net.core.busy_poll; 0 turns it off)
/// before it blocks in epoll_wait. A client's send then finds the loop awake, so the kernel, in the client's context,
/// queues the event without waking a sleeping thread: that wake-up (sock_def_readable, a cross-CPU interrupt) was
/// 11.2% of redis-benchmark's CPU against redis-server and 3.6% against kv (perf, -P 1 GET), which is what sets the
/// requests/s when the client is the bottleneck (docs/BENCHMARKS.md). It costs at most 50 us of CPU per wake-up; an
/// idle server sleeps.
/// </para>
/// The default on Linux x64; <c>KV_EPOLL=0</c> (and every other platform) runs each client as a task on the .NET
/// socket engine (<see cref="ClientSession.RunAsync"/>).
/// </summary>
internal sealed unsafe partial class EpollLoop : IDisposable
{
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    private const int EpollCtlAdd = 1, EpollCtlDel = 2;
    private const uint EpollIn = 0x001, EpollRdHup = 0x2000;
    private const int EfdNonBlock = 0x800, EfdCloExec = 0x80000, EpollCloExec = 0x80000;
    private const int MaxEvents = 256;
    private const ulong WakeData = ulong.MaxValue;

    [LibraryImport("libc", SetLastError = true)] private static partial int epoll_create1(int flags);
    [LibraryImport("libc", SetLastError = true)] private static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);
    [LibraryImport("libc", SetLastError = true)] private static partial int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout);
    [LibraryImport("libc", SetLastError = true)] private static partial int eventfd(uint initval, int flags);
    [LibraryImport("libc", SetLastError = true)] private static partial nint read(int fd, void* buf, nint count);
    [LibraryImport("libc", SetLastError = true)] private static partial nint write(int fd, void* buf, nint count);
    [LibraryImport("libc")] private static partial int close(int fd);

    private readonly KvServer _server;
    private readonly int _epfd, _wakeFd;
    private readonly Lock _gate = new();
    private object?[] _slots = new object?[64]; // ClientSession or Reader
    private uint[] _gens = new uint[64];
    private readonly Stack<int> _free = new();
    private int _nextSlot;
    private readonly ConcurrentQueue<ClientSession> _resume = new();
    private readonly List<ClientSession> _pendingWrites = [];
    private readonly Thread _thread;
    private volatile bool _stop;
    private readonly long _busyPollTicks;

    /// <summary>Default busy-poll window in microseconds (KV_BUSY_POLL_US).</summary>
    internal const int DefaultBusyPollMicroseconds = 50;

    private EpollLoop(KvServer server, int epfd, int wakeFd, int busyPollMicroseconds)
    {
        _server = server;
        _busyPollTicks = (long)busyPollMicroseconds * System.Diagnostics.Stopwatch.Frequency / 1_000_000;
        _epfd = epfd;
        _wakeFd = wakeFd;
        _thread = new Thread(Run) { IsBackground = true, Name = "kv-eventloop" };
        _thread.Start();
    }

    /// <summary>
    /// Creates the loop, or returns null when turned off (<c>KV_EPOLL=0</c>) or not available (not Linux x64, epoll
    /// failed): clients then run as tasks. <c>KV_BUSY_POLL_US</c> (0-10000, default 50) sets the busy-poll window.
    /// </summary>
    public static EpollLoop? TryCreate(KvServer server)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        var mode = Environment.GetEnvironmentVariable("KV_EPOLL");
        if (mode is { Length: > 0 } and not ("0" or "1"))
            server.Log.LogWarning("KV_EPOLL={Value} is neither 0 (a task per client) nor 1 (the event loop, the default); using the event loop", mode);
        if (mode == "0") return null;
        int busyPoll = DefaultBusyPollMicroseconds;
        if (Environment.GetEnvironmentVariable("KV_BUSY_POLL_US") is { Length: > 0 } bp)
        {
            if (!int.TryParse(bp, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out busyPoll) || busyPoll > 10_000)
            {
                server.Log.LogWarning("KV_BUSY_POLL_US={Value} is not a number of microseconds from 0 to 10000; using {Default}", bp, DefaultBusyPollMicroseconds);
                busyPoll = DefaultBusyPollMicroseconds;
            }
        }
        int ep = epoll_create1(EpollCloExec);
        if (ep < 0) return null;
        int ev = eventfd(0, EfdNonBlock | EfdCloExec);
        if (ev < 0) { close(ep); return null; }
        var e = new EpollEvent { Events = EpollIn, Data = WakeData };
        if (epoll_ctl(ep, EpollCtlAdd, ev, &e) != 0) { close(ev); close(ep); return null; }
        return new EpollLoop(server, ep, ev, busyPoll);
    }

    /// <summary>Puts a freshly accepted client on the loop; false when epoll refused it (the caller runs it as a task).</summary>
    public bool Register(ClientSession c)
    {
        var sock = c.Socket;
        if (sock is null) return false;
        c.Loop = this;
        if (Add(c, sock, slot => c.LoopSlot = slot)) return true;
        c.Loop = null;
        return false;
    }

    /// <summary>
    /// A socket read on the loop by a callback that is not a client: the replica's master link (redis reads its
    /// master in the same event loop as its clients). <see cref="Reader.Remove"/> takes it off.
    /// </summary>
    internal sealed class Reader
    {
        private readonly EpollLoop _loop;
        private readonly System.Net.Sockets.Socket _sock;
        private bool _removed;

        internal Reader(EpollLoop loop, System.Net.Sockets.Socket sock, Action onReadable)
        {
            _loop = loop;
            _sock = sock;
            OnReadable = onReadable;
        }

        internal readonly Action OnReadable;
        internal int Slot;

        /// <summary>Takes the socket off the loop (any thread; later calls do nothing).</summary>
        public void Remove()
        {
            lock (_loop._gate)
            {
                if (_removed) return;
                _removed = true;
            }
            _loop.Remove(_sock, Slot);
        }
    }

    /// <summary>
    /// Reads <paramref name="sock"/> on the loop: <paramref name="onReadable"/> runs on the loop thread each time it is
    /// readable (level-triggered: it must read, or remove the reader). The socket becomes non-blocking. Null when epoll
    /// refused it.
    /// </summary>
    internal Reader? AddReader(System.Net.Sockets.Socket sock, Action onReadable)
    {
        var r = new Reader(this, sock, onReadable);
        return Add(r, sock, slot => r.Slot = slot) ? r : null;
    }

    // setSlot runs before the socket is armed: from then on the loop thread may already serve it, and close it.
    private bool Add(object handler, System.Net.Sockets.Socket sock, Action<int> setSlot)
    {
        sock.Blocking = false;
        int slot;
        uint gen;
        lock (_gate)
        {
            if (_free.Count > 0) slot = _free.Pop();
            else
            {
                slot = _nextSlot++;
                if (slot == _slots.Length)
                {
                    Array.Resize(ref _slots, _slots.Length * 2);
                    Array.Resize(ref _gens, _gens.Length * 2);
                }
            }
            gen = ++_gens[slot];
            _slots[slot] = handler;
        }
        setSlot(slot);
        var e = new EpollEvent { Events = EpollIn | EpollRdHup, Data = ((ulong)gen << 32) | (uint)slot };
        if (epoll_ctl(_epfd, EpollCtlAdd, (int)sock.Handle, &e) != 0)
        {
            Release(slot);
            return false;
        }
        return true;
    }

    /// <summary>Takes a client off the loop before its socket is closed (any thread; once).</summary>
    public void Unregister(ClientSession c, System.Net.Sockets.Socket sock) => Remove(sock, c.LoopSlot);

    private void Remove(System.Net.Sockets.Socket sock, int slot)
    {
        try
        {
            EpollEvent e = default;
            epoll_ctl(_epfd, EpollCtlDel, (int)sock.Handle, &e);
        }
        catch (ObjectDisposedException) { }
        Release(slot);
    }

    private void Release(int slot)
    {
        lock (_gate)
        {
            _slots[slot] = null;
            _gens[slot]++; // events already returned for the old registration no longer match
            _free.Push(slot);
        }
    }

    /// <summary>Hands a client back to the loop (unblocked by another thread): its pending input runs there.</summary>
    public void Resume(ClientSession c)
    {
        _resume.Enqueue(c);
        ulong one = 1;
        write(_wakeFd, &one, sizeof(ulong));
    }

    private void Run()
    {
        var events = new EpollEvent[MaxEvents];
        bool hadWork = false;
        fixed (EpollEvent* evs = events)
        {
            while (!_stop)
            {
                int n = epoll_wait(_epfd, evs, MaxEvents, 0);
                if (n == 0 && _busyPollTicks > 0 && hadWork)
                {
                    // Busy poll (see the class comment): stay awake a little while clients are active.
                    long until = System.Diagnostics.Stopwatch.GetTimestamp() + _busyPollTicks;
                    while (n == 0 && System.Diagnostics.Stopwatch.GetTimestamp() < until)
                        n = epoll_wait(_epfd, evs, MaxEvents, 0);
                }
                if (n == 0) n = epoll_wait(_epfd, evs, MaxEvents, 1000);
                hadWork = n > 0;
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == 4) continue; // EINTR
                    _server.Log.LogWarning("epoll_wait failed: errno {Errno}", errno);
                    Thread.Sleep(10);
                    continue;
                }
                for (int i = 0; i < n; i++)
                {
                    ulong data = evs[i].Data;
                    if (data == WakeData)
                    {
                        ulong v;
                        read(_wakeFd, &v, sizeof(ulong));
                        while (_resume.TryDequeue(out var r)) Run(r, static (c, p) => c.ResumeFromLoop(p));
                        continue;
                    }
                    object? h;
                    int slot = (int)(uint)data;
                    lock (_gate) h = slot < _slots.Length && _gens[slot] == (uint)(data >> 32) ? _slots[slot] : null;
                    if (h is ClientSession c) Run(c, static (s, p) => s.OnReadable(p));
                    else if (h is Reader r)
                    {
                        try { r.OnReadable(); }
                        catch (Exception e)
                        {
                            _server.Log.LogWarning(e, "Loop reader failed");
                            r.Remove();
                        }
                    }
                }
                if (_server.AfterClientBatch is { } after)
                {
                    // beforeSleep: the stream the iteration's writes produced goes to the replicas first.
                    lock (_server.ExecLock) after(true);
                }
                foreach (var c in _pendingWrites) Run(c, static (s, _) => s.FlushFromLoop());
                _pendingWrites.Clear();
            }
        }
    }

    private void Run(ClientSession c, Action<ClientSession, List<ClientSession>> step)
    {
        try { step(c, _pendingWrites); }
        catch (Exception e)
        {
            // One client's failure never stops the loop.
            _server.Log.LogWarning(e, "Client {Id} failed", c.Id);
            c.Close(null);
        }
    }

    /// <summary>Stops the loop thread and closes the epoll set (clients are closed by the server).</summary>
    public void Dispose()
    {
        if (_stop) return;
        _stop = true;
        ulong one = 1;
        write(_wakeFd, &one, sizeof(ulong));
        if (Thread.CurrentThread == _thread) return; // SHUTDOWN runs on the loop: it ends when the process does
        _thread.Join(2000);
        close(_wakeFd);
        close(_epfd);
    }
}

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
/// Opt-in (<c>KV_EPOLL=1</c>, Linux x64): it costs 15-25% less CPU per request, but with it a replica's largest sampled
/// lag under load was 35 KiB-1.1 MiB against 0-2 KiB with the default (docs/BENCHMARKS.md), a cause not found yet.
/// By default each client runs <see cref="ClientSession.RunAsync"/> on the .NET socket engine.
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
    private ClientSession?[] _slots = new ClientSession?[64];
    private uint[] _gens = new uint[64];
    private readonly Stack<int> _free = new();
    private int _nextSlot;
    private readonly ConcurrentQueue<ClientSession> _resume = new();
    private readonly List<ClientSession> _pendingWrites = [];
    private readonly Thread _thread;
    private volatile bool _stop;

    private EpollLoop(KvServer server, int epfd, int wakeFd)
    {
        _server = server;
        _epfd = epfd;
        _wakeFd = wakeFd;
        _thread = new Thread(Run) { IsBackground = true, Name = "kv-eventloop" };
        _thread.Start();
    }

    /// <summary>Creates the loop, or returns null when not asked for (KV_EPOLL=1) or not available (not Linux x64, epoll failed).</summary>
    public static EpollLoop? TryCreate(KvServer server)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        if (Environment.GetEnvironmentVariable("KV_EPOLL") != "1") return null;
        int ep = epoll_create1(EpollCloExec);
        if (ep < 0) return null;
        int ev = eventfd(0, EfdNonBlock | EfdCloExec);
        if (ev < 0) { close(ep); return null; }
        var e = new EpollEvent { Events = EpollIn, Data = WakeData };
        if (epoll_ctl(ep, EpollCtlAdd, ev, &e) != 0) { close(ev); close(ep); return null; }
        return new EpollLoop(server, ep, ev);
    }

    /// <summary>Puts a freshly accepted client on the loop; false when epoll refused it (the caller runs it as a task).</summary>
    public bool Register(ClientSession c)
    {
        var sock = c.Socket;
        if (sock is null) return false;
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
            _slots[slot] = c;
        }
        c.Loop = this;
        c.LoopSlot = slot;
        var e = new EpollEvent { Events = EpollIn | EpollRdHup, Data = ((ulong)gen << 32) | (uint)slot };
        if (epoll_ctl(_epfd, EpollCtlAdd, (int)sock.Handle, &e) != 0)
        {
            Release(slot);
            c.Loop = null;
            return false;
        }
        return true;
    }

    /// <summary>Takes a client off the loop before its socket is closed (any thread; once).</summary>
    public void Unregister(ClientSession c, System.Net.Sockets.Socket sock)
    {
        try
        {
            EpollEvent e = default;
            epoll_ctl(_epfd, EpollCtlDel, (int)sock.Handle, &e);
        }
        catch (ObjectDisposedException) { }
        Release(c.LoopSlot);
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
        fixed (EpollEvent* evs = events)
        {
            while (!_stop)
            {
                int n = epoll_wait(_epfd, evs, MaxEvents, 1000);
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
                    ClientSession? c;
                    int slot = (int)(uint)data;
                    lock (_gate) c = slot < _slots.Length && _gens[slot] == (uint)(data >> 32) ? _slots[slot] : null;
                    if (c is not null) Run(c, static (s, p) => s.OnReadable(p));
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

"""Labels of the overview page, and the definition of each figure as the page states it
(merged into `i18n.LABELS`; docs/reports.md says the same)."""

from __future__ import annotations

OVERVIEW_LABELS: dict[str, dict[str, str]] = {
    "ru": {
        "ov_title": "Обзор",
        "ov_volumes": "Объём звонков",
        "ov_per_day": "Звонки по дням",
        "ov_per_week": "Звонки по неделям (52 недели)",
        "ov_calls_unit": "звонков",
        "ov_numbers_unit": "номеров",
        "ov_prev_line": "всего в тот же день предыдущего периода",
        "ov_total": "всего",
        "ov_service": "Уровень обслуживания",
        "ov_sl": "Отвечено за {s} с",
        "ov_wait_median": "Ожидание ответа, медиана",
        "ov_wait_p90": "Ожидание ответа, 90-й процентиль",
        "ov_abandoned": "Брошенные",
        "ov_aband_median": "Ожидание брошенных, медиана",
        "ov_aband_p90": "Ожидание брошенных, 90-й процентиль",
        "ov_callbacks": "Перезвоны по пропущенным",
        "ov_cb_share": "Перезвонили",
        "ov_cb_15": "Перезвонили за 15 мин",
        "ov_cb_1h": "Перезвонили за 1 ч",
        "ov_cb_same": "Перезвонили в тот же день",
        "ov_cb_median": "Время до перезвона, медиана",
        "ov_open": "Ещё не перезвонили",
        "ov_open_link": "список по ответственным",
        "ov_managers": "По сотрудникам",
        "ov_ext": "Внутр. номер",
        "ov_no_ext": "без внутреннего номера",
        "ov_answered": "Принято",
        "ov_called_back": "Перезвонил",
        "ov_avg_call": "Средний разговор",
        "ov_event_share": "Со Событием 1С",
        "ov_all_calls": "Всего звонков",
        "ov_lines": "По линиям (DID)",
        "ov_line": "Линия",
        "ov_queues": "По очередям",
        "ov_queue": "Очередь",
        "ov_heat": "Загрузка по часам: все звонки периода, местное время",
        "ov_heat_legend": "Темнее — больше звонков; самая загруженная ячейка — {n}.",
        "ov_clients": "Новые и вернувшиеся номера",
        "ov_new": "Новые",
        "ov_returning": "Вернувшиеся",
        "ov_leg_new": "новые номера",
        "ov_leg_ret": "вернувшиеся номера",
        "ov_definitions": "Определения",
        "ov_sort_hint": "Нажмите на заголовок столбца, чтобы отсортировать.",
        "ov_figure": "Показатель",
        "ov_current": "Текущий период",
        "ov_previous": "Предыдущий период",
        "ov_change": "Изменение",
        "ov_hour": "час",
        "ov_seconds": "с",
        "ov_pp": "п. п.",
        "def_call": "Звонок — одна запись журнала звонков (один ID звонка): переведённый звонок и все "
        "попытки очереди — один звонок. Учитываются звонки с внешним номером, по местному дню и "
        "часу начала.",
        "def_outbound": "Исходящий — звонок сотрудника на внешний номер, в том числе по кнопке из 1С.",
        "def_missed": "Пропущенный — входящий звонок, на который не ответил ни один сотрудник. "
        "Звонок очереди или группы, принятый одним из сотрудников, — отвеченный.",
        "def_change": "Изменение — к предыдущему периоду той же длины, идущему прямо перед текущим.",
        "def_sl": "Доля входящих звонков (пропущенные тоже в знаменателе), на которые ответили не "
        "позже чем через {s} с от начала звонка.",
        "def_wait": "Ожидание ответа — от начала звонка до ответа сотрудника, по отвеченным входящим. "
        "Медиана и 90-й процентиль — по ближайшему рангу.",
        "def_abandoned": "Брошенный — пропущенный входящий; его ожидание — сколько звонивший ждал, "
        "пока не положил трубку.",
        "def_cb": "Перезвонили — после пропущенного в течение {h} ч был отвеченный звонок (входящий "
        "или исходящий) с тем же номером. Время до перезвона — от начала пропущенного до начала "
        "этого звонка. Доли — от всех пропущенных периода; «в тот же день» — по местной дате.",
        "def_open": "Ещё не перезвонили — пропущенные периода, после которых такого звонка не было.",
        "def_manager": "Сотрудник — по внутреннему номеру звонка, имя из 1С. Принято — отвеченные "
        "входящие; пропущенные — те, что звонили на его номер; перезвонил — пропущенные, по "
        "которым перезвон сделал он; средний разговор — время разговоров, делённое на звонки с "
        "разговором; со Событием 1С — доля его звонков, связанных с документом 1С.",
        "def_lines": "Линия — DID из строк CDR, очередь — номер очереди (приложение Queue); "
        "разделы есть, только когда это есть в данных.",
        "def_new": "Новый номер — его первый звонок в журнале был в этот день; вернувшийся — "
        "звонил в этот день и звонил раньше. За неделю и за период — сумма по дням: номер "
        "считается раз в день.",
        "def_heat": "Все звонки периода по дню недели и часу начала (местное время).",
    },
    "en": {
        "ov_title": "Overview",
        "ov_volumes": "Call volumes",
        "ov_per_day": "Calls per day",
        "ov_per_week": "Calls per week (52 weeks)",
        "ov_calls_unit": "calls",
        "ov_numbers_unit": "numbers",
        "ov_prev_line": "total on the same day of the previous period",
        "ov_total": "total",
        "ov_service": "Service level",
        "ov_sl": "Answered within {s} s",
        "ov_wait_median": "Wait to answer, median",
        "ov_wait_p90": "Wait to answer, 90th percentile",
        "ov_abandoned": "Abandoned",
        "ov_aband_median": "Abandoned: wait, median",
        "ov_aband_p90": "Abandoned: wait, 90th percentile",
        "ov_callbacks": "Missed calls called back",
        "ov_cb_share": "Called back",
        "ov_cb_15": "Called back within 15 min",
        "ov_cb_1h": "Called back within 1 h",
        "ov_cb_same": "Called back the same day",
        "ov_cb_median": "Time to call back, median",
        "ov_open": "Not called back yet",
        "ov_open_link": "the list per manager",
        "ov_managers": "Per employee",
        "ov_ext": "Extension",
        "ov_no_ext": "no extension",
        "ov_answered": "Answered",
        "ov_called_back": "Called back",
        "ov_avg_call": "Average call",
        "ov_event_share": "With a 1C Event",
        "ov_all_calls": "All calls",
        "ov_lines": "Per line (DID)",
        "ov_line": "Line",
        "ov_queues": "Per queue",
        "ov_queue": "Queue",
        "ov_heat": "Busiest hours: all calls of the period, local time",
        "ov_heat_legend": "Darker means more calls; the busiest cell has {n}.",
        "ov_clients": "New and returning numbers",
        "ov_new": "New",
        "ov_returning": "Returning",
        "ov_leg_new": "new numbers",
        "ov_leg_ret": "returning numbers",
        "ov_definitions": "Definitions",
        "ov_sort_hint": "Click a column heading to sort.",
        "ov_figure": "Figure",
        "ov_current": "This period",
        "ov_previous": "Previous period",
        "ov_change": "Change",
        "ov_hour": "hour",
        "ov_seconds": "s",
        "ov_pp": "pp",
        "def_call": "A call is one ledger call (one call id): a transferred call and all of a "
        "queue's attempts are one call. Calls with an external number count, by the local day and "
        "hour they started.",
        "def_outbound": "Outbound: an employee's call to an external number, click-to-call included.",
        "def_missed": "Missed: an inbound call no employee answered. A queue or ring-group call "
        "one member answered is answered.",
        "def_change": "Change: against the previous period of the same length, right before this one.",
        "def_sl": "The share of inbound calls (missed ones included in the whole) answered at most "
        "{s} s after the call started.",
        "def_wait": "Wait to answer: from the call's start to an employee's answer, over answered "
        "inbound calls. Median and 90th percentile by nearest rank.",
        "def_abandoned": "Abandoned: a missed inbound call; its wait is how long the caller "
        "waited before hanging up.",
        "def_cb": "Called back: within {h} h after the missed call, an answered call (inbound or "
        "outbound) with the same number. Time to call back: from the missed call's start to that "
        "call's start. Shares are of all missed calls of the period; the same day is the local date.",
        "def_open": "Not called back yet: missed calls of the period with no such call after them.",
        "def_manager": "Employee: by the call's extension, named from 1C. Answered: answered "
        "inbound calls; missed: those that rang the extension; called back: missed calls whose "
        "callback this employee made; average call: talk time over calls with talk; with a 1C "
        "Event: the share of the employee's calls linked to a 1C document.",
        "def_lines": "Line: the DID of the CDR rows; queue: the queue number (the Queue "
        "application); shown only when the data has them.",
        "def_new": "New number: its first call in the ledger was that day; returning: it called "
        "that day and had called before. Per week and per period the days are summed: a number "
        "counts once a day.",
        "def_heat": "All calls of the period by weekday and hour they started (local time).",
    },
}

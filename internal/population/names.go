package population

// name is a name in Latin and Arabic script.
type name struct{ latin, arabic string }

// Small lists of common Jordanian given and family names; a population drawn
// from them has many namesakes, as a real one does.
var (
	maleNames = []name{
		{"Mohammad", "محمد"}, {"Ahmad", "أحمد"}, {"Omar", "عمر"}, {"Ali", "علي"}, {"Khaled", "خالد"},
		{"Yousef", "يوسف"}, {"Ibrahim", "إبراهيم"}, {"Hamza", "حمزة"}, {"Zaid", "زيد"}, {"Hussein", "حسين"},
		{"Abdallah", "عبد الله"}, {"Mahmoud", "محمود"}, {"Saleh", "صالح"}, {"Tareq", "طارق"}, {"Faisal", "فيصل"},
		{"Rami", "رامي"}, {"Bilal", "بلال"}, {"Anas", "أنس"}, {"Laith", "ليث"}, {"Odai", "عدي"},
		{"Hashem", "هاشم"}, {"Sami", "سامي"}, {"Nader", "نادر"}, {"Walid", "وليد"}, {"Majed", "ماجد"},
	}
	femaleNames = []name{
		{"Sara", "سارة"}, {"Layla", "ليلى"}, {"Rania", "رانيا"}, {"Noor", "نور"}, {"Hala", "هالة"},
		{"Dana", "دانة"}, {"Reem", "ريم"}, {"Lina", "لينا"}, {"Aya", "آية"}, {"Fatima", "فاطمة"},
		{"Mariam", "مريم"}, {"Huda", "هدى"}, {"Salma", "سلمى"}, {"Rawan", "روان"}, {"Aseel", "أسيل"},
		{"Ruba", "ربى"}, {"Haya", "هيا"}, {"Zainab", "زينب"}, {"Amal", "أمل"}, {"Yasmin", "ياسمين"},
		{"Dima", "ديما"}, {"Shahd", "شهد"}, {"Tala", "تالا"}, {"Asma", "أسماء"}, {"Nada", "ندى"},
	}
	familyNames = []name{
		{"Nasser", "ناصر"}, {"Haddad", "حداد"}, {"Khoury", "خوري"}, {"Majali", "المجالي"}, {"Tarawneh", "الطراونة"},
		{"Obeidat", "عبيدات"}, {"Zoubi", "الزعبي"}, {"Rawashdeh", "الرواشدة"}, {"Abbadi", "العبادي"}, {"Khasawneh", "الخصاونة"},
		{"Masri", "المصري"}, {"Qudah", "القضاة"}, {"Shamaileh", "الشمايلة"}, {"Bataineh", "البطاينة"}, {"Hmoud", "حمود"},
		{"Shdeifat", "الشديفات"}, {"Smadi", "الصمادي"}, {"Momani", "المومني"}, {"Jaber", "جابر"}, {"Saleh", "صالح"},
		{"Fayez", "الفايز"}, {"Adwan", "العدوان"}, {"Daoud", "داود"}, {"Qasem", "قاسم"}, {"Hijazi", "حجازي"},
		{"Halaseh", "الحلاسة"}, {"Amro", "عمرو"}, {"Nimri", "النمري"}, {"Sharif", "الشريف"}, {"Awamleh", "العواملة"},
	}
)
